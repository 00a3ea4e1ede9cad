"""Output shapes of the API (read-only). Input serializers live on their views."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.jobs.models import JobStatus
from generation.models import DesignOutput

# The API keeps the words it has always published: a request being worked on is "processing" there,
# the job vocabulary's "running" (core.jobs) in the database. One map, read by the output and the filter.
API_STATUS_CHOICES = [
    ("pending", "Pending"),
    ("processing", "Processing"),
    ("completed", "Completed"),
    ("failed", "Failed"),
]
API_TO_JOB_STATUS = {"processing": JobStatus.RUNNING}
JOB_TO_API_STATUS = {job: api for api, job in API_TO_JOB_STATUS.items()}


class GenerationStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=API_STATUS_CHOICES, **kwargs)

    def to_representation(self, value: str) -> str:
        return JOB_TO_API_STATUS.get(value, value)


def _absolute(context: dict[str, Any], name: str, *args: Any) -> str:
    path = reverse(name, args=args)
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class ModelVersionRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="model_name")
    version = serializers.IntegerField()


class TemplateRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="template.id")
    name = serializers.CharField(source="template.name")
    version_id = serializers.UUIDField(source="id")
    version = serializers.IntegerField()


class StyleGuideRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="guide_name")


class PromptSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    text = serializers.CharField(source="text_content")
    template = TemplateRefSerializer(source="template_version", allow_null=True)
    variables = serializers.JSONField(source="template_variables")
    style_guide = StyleGuideRefSerializer(allow_null=True)
    conversation = serializers.UUIDField(source="conversation_id", allow_null=True)
    created_at = serializers.DateTimeField()


class DesignNeighbourSerializer(serializers.Serializer):
    example = serializers.UUIDField()
    name = serializers.CharField()
    prompt = serializers.CharField()
    similarity = serializers.FloatField(
        help_text="Cosine similarity of the renderings' fingerprints (1: same)."
    )
    near_duplicate = serializers.BooleanField()


class DesignSerializer(serializers.Serializer):
    sequence_order = serializers.IntegerField()
    svg_url = serializers.URLField()
    png_url = serializers.URLField(allow_null=True)
    style_attributes = serializers.JSONField()
    neighbours = DesignNeighbourSerializer(
        many=True,
        required=False,
        allow_null=True,
        help_text="With ?neighbours=N: the N training examples whose renderings are nearest this design's "
        "(null when the design has no rendering).",
    )


class InputImageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    file_type = serializers.CharField()
    file_size = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    analysis = serializers.JSONField()


class TimingsSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    generated_at = serializers.DateTimeField(allow_null=True)
    processing_time_ms = serializers.IntegerField(allow_null=True)


class DesignsShortBySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many designs fewer than `requested_count` it has.")
    reason = serializers.CharField(help_text="Why: what the model's candidates were, after extra draws.")


class GenerationSerializer(serializers.Serializer):
    """One generation request and its result. `error` is a masked, user-facing message.
    `designs_short_by` is null unless a completed request has fewer designs than asked for: the model
    gave too few distinct usable candidates, even after drawing more."""

    id = serializers.UUIDField()
    url = serializers.SerializerMethodField()
    status = GenerationStatusField()
    error = serializers.SerializerMethodField()
    prompt = PromptSerializer()
    requested_count = serializers.IntegerField()
    seed = serializers.IntegerField(allow_null=True)
    temperature = serializers.FloatField()
    attempts = serializers.IntegerField()
    model_version = ModelVersionRefSerializer(allow_null=True)
    timings = serializers.SerializerMethodField()
    design_metadata = serializers.JSONField()
    designs = serializers.SerializerMethodField()
    designs_short_by = serializers.SerializerMethodField()
    input_images = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj: DesignOutput) -> str:
        return _absolute(self.context, "api:generation-detail", obj.pk)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, obj: DesignOutput) -> str | None:
        return (obj.error_message or None) if obj.status == JobStatus.FAILED else None

    @extend_schema_field(TimingsSerializer)
    def get_timings(self, obj: DesignOutput) -> dict[str, Any]:
        return TimingsSerializer(
            {
                "created_at": obj.created_at,
                "generated_at": obj.generated_at,
                "processing_time_ms": obj.processing_time_ms,
            }
        ).data

    @extend_schema_field(DesignSerializer(many=True))
    def get_designs(self, obj: DesignOutput) -> list[dict[str, Any]]:
        by_seq: dict[int, dict[str, Any]] = {}
        for image in obj.images.all():  # prefetched, ordered by sequence_order
            slot = by_seq.setdefault(
                image.sequence_order,
                {
                    "sequence_order": image.sequence_order,
                    "svg_url": None,
                    "png_url": None,
                    "style_attributes": {},
                },
            )
            if image.file_type == "svg":
                # Every design has a PNG URL: the download renders one not yet rendered by the worker.
                for kind in ("svg", "png"):
                    url = _absolute(self.context, f"api:design-{kind}", obj.pk, image.sequence_order)
                    slot[f"{kind}_url"] = url
                slot["style_attributes"] = image.style_attributes
        near = self.context.get("neighbours")  # {sequence_order: [Neighbour] | None}, when asked for
        if near is not None:
            from generation.design_neighbours import neighbour_json

            for seq, slot in by_seq.items():
                found = near.get(seq)
                slot["neighbours"] = None if found is None else [neighbour_json(n) for n in found]
        return [d for _, d in sorted(by_seq.items()) if d["svg_url"]]

    @extend_schema_field(DesignsShortBySerializer(allow_null=True))
    def get_designs_short_by(self, obj: DesignOutput) -> dict[str, Any] | None:
        short = (obj.design_metadata or {}).get("designs_short_by")
        return short if obj.status == JobStatus.COMPLETED and isinstance(short, dict) else None

    @extend_schema_field(InputImageSerializer(many=True))
    def get_input_images(self, obj: DesignOutput) -> list[dict[str, Any]]:
        return [
            {
                "id": image.pk,
                "url": _absolute(self.context, "api:input-image", obj.pk, image.pk),
                "file_type": image.file_type,
                "file_size": image.file_size,
                "width": image.width,
                "height": image.height,
                "analysis": image.analysis_metadata,
            }
            for image in obj.prompt.input_images.all()  # prefetched
        ]


class ConversationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.CharField()
    context = serializers.JSONField()
    total_messages = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
