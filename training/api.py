"""Training through the API: imports and snapshots for curators' scripts (the same services as the admin
and the command), and the list of model versions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import StyleGuide
from core.api import ApiMixin, HasModelPerm, ReadOnlyListApi, list_schema
from core.api_errors import ApiError, errors
from core.errors import CommonErrorCode
from training import selectors
from training.errors import TrainingErrorCode
from training.models import Dataset, ImportBatch, ReviewPolicy, TrainingExample
from training.readers import UPLOAD_SUFFIXES, file_format
from training.services.imports import import_upload_create
from training.services.snapshots import dataset_snapshot_create


class ImportBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportBatch
        fields = (
            "id",
            "source_name",
            "format",
            "mode",
            "near_duplicates",
            "dry_run",
            "status",
            "progress",
            "rows_read",
            "rows_valid",
            "rows_invalid",
            "rows_duplicate",
            "rows_created",
            "rows_updated",
            "review_policy",
            "report",
            "created_at",
            "finished_at",
        )


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=True)
    mode = serializers.ChoiceField(choices=ImportBatch.Mode.choices, default=ImportBatch.Mode.ALL_OR_NOTHING)
    near_duplicates = serializers.ChoiceField(
        choices=ImportBatch.NearDuplicates.choices, default=ImportBatch.NearDuplicates.KEEP
    )
    default_status = serializers.ChoiceField(choices=TrainingExample.Status.choices, default="draft")
    style_guide = serializers.PrimaryKeyRelatedField(
        queryset=StyleGuide.objects.all(), required=False, allow_null=True
    )
    review_policy = serializers.PrimaryKeyRelatedField(
        queryset=ReviewPolicy.objects.all(),
        required=False,
        allow_null=True,
        help_text="The review queue the new examples join; empty: one review decides.",
    )

    def validate_file(self, upload: Any) -> Any:
        if file_format(upload.name) is None:
            raise serializers.ValidationError(f"Upload {UPLOAD_SUFFIXES}.")
        return upload


class ImportListCreateApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"GET": ("training.view_importbatch",), "POST": ("training.add_importbatch",)}
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Import training data (JSONL, CSV or ZIP); a dry run stores nothing and reports",
        request=ImportCreateSerializer,
        responses={202: ImportBatchSerializer, **errors(CommonErrorCode.VALIDATION_ERROR)},
    )
    def post(self, request: Request) -> Response:
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = import_upload_create(
            uploaded=data.validated_data["file"],
            mode=data.validated_data["mode"],
            near_duplicates=data.validated_data["near_duplicates"],
            dry_run=data.validated_data["dry_run"],
            default_status=data.validated_data["default_status"],
            style_guide=data.validated_data.get("style_guide"),
            review_policy=data.validated_data.get("review_policy"),
            created_by=request.user,
        )
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Recent imports", responses={200: ImportBatchSerializer(many=True), **errors()})
    def get(self, request: Request) -> Response:
        return Response(ImportBatchSerializer(selectors.import_batch_list()[:50], many=True).data)


class ImportDetailApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"GET": ("training.view_importbatch",)}

    @extend_schema(
        summary="One import: status, counts and the per-row report",
        responses={200: ImportBatchSerializer, **errors(TrainingErrorCode.IMPORT_NOT_FOUND)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        batch = selectors.import_batch_list().filter(pk=pk).first()
        if batch is None:
            raise ApiError(TrainingErrorCode.IMPORT_NOT_FOUND)
        return Response(ImportBatchSerializer(batch).data)


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = (
            "id",
            "name",
            "version",
            "status",
            "record_count",
            "size_bytes",
            "content_hash",
            "export_md5",
            "split",
            "selection",
            "error_message",
            "created_at",
        )


class SnapshotCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    seed = serializers.IntegerField(min_value=0, default=0)
    validation = serializers.FloatField(min_value=0, max_value=0.5, default=0.05)
    test = serializers.FloatField(min_value=0, max_value=0.5, default=0.05)
    status = serializers.ChoiceField(choices=TrainingExample.Status.choices, default="approved")
    source_type = serializers.ChoiceField(choices=TrainingExample.SourceType.choices, required=False)
    data_category = serializers.CharField(required=False, max_length=100)
    style_guide = serializers.PrimaryKeyRelatedField(queryset=StyleGuide.objects.all(), required=False)
    example_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=100_000)


class SnapshotCreateApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"POST": ("training.add_dataset",)}

    @extend_schema(
        summary="Freeze a selection of examples into an immutable, split, hashed snapshot",
        request=SnapshotCreateSerializer,
        responses={
            201: DatasetSerializer,
            **errors(CommonErrorCode.VALIDATION_ERROR, TrainingErrorCode.EMPTY_SNAPSHOT),
        },
    )
    def post(self, request: Request) -> Response:
        data = SnapshotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        examples = TrainingExample.objects.filter(status=v["status"])
        selection: dict[str, Any] = {"status": v["status"]}
        for field in ("source_type", "data_category"):
            if v.get(field):
                examples = examples.filter(**{field: v[field]})
                selection[field] = v[field]
        if v.get("style_guide"):
            examples = examples.filter(style_guide=v["style_guide"])
            selection["style_guide"] = str(v["style_guide"].pk)
        if v.get("example_ids"):
            examples = examples.filter(pk__in=v["example_ids"])
            selection["example_ids"] = len(v["example_ids"])
        dataset = dataset_snapshot_create(
            name=v["name"],
            examples=examples,
            seed=v["seed"],
            description=v["description"],
            selection=selection,
            ratios={
                "train": round(1 - v["validation"] - v["test"], 6),
                "validation": v["validation"],
                "test": v["test"],
            },
            created_by=request.user,
        )
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class ModelVersionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="model_name")
    version = serializers.IntegerField()
    architecture = serializers.CharField()
    training_strategy = serializers.CharField()
    parameter_count = serializers.IntegerField()
    trained_at = serializers.DateTimeField(allow_null=True)
    base_model = serializers.UUIDField(source="base_model_id", allow_null=True)
    metrics = serializers.JSONField()
    aliases = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aliases(self, obj: Any) -> list[str]:
        return sorted(a.name for a in obj.aliases.all())  # prefetched by the selector


@list_schema("Model versions and their aliases", ModelVersionSerializer)
class ModelVersionListApi(ReadOnlyListApi):
    serializer_class = ModelVersionSerializer

    def selector(self) -> QuerySet:
        return selectors.model_version_list().order_by("model_name", "-version")
