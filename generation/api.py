"""The public API for generation requests, /api/v1/generations/: request designs, list yours, read one.
(Their files: generation.api_files; conversations: generation.api_conversations.)

Every view is a core.api view (auth, throttling, the error shape, the request log); a user sees only
their own rows (others' ids answer 404).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.errors import CatalogErrorCode
from core.api import ApiMixin, HasModelPerm, UserThrottle
from core.api_errors import ApiError, errors
from core.api_json import StrictJSONField, StrictJSONParser
from core.errors import CommonErrorCode
from core.jobs.models import TERMINAL
from generation import selectors
from generation.design_neighbours import MAX_NEIGHBOURS, design_neighbours
from generation.errors import GenerationErrorCode as Codes
from generation.filters import GenerationFilter
from generation.images import MAX_IMAGES
from generation.models import DesignOutput
from generation.serializers import GenerationSerializer
from generation.services.request_inputs import MAX_PROMPT_CHARS
from generation.services.requests import MAX_COUNT, generation_create
from training.errors import TrainingErrorCode
from training.similarity import IndexMissing, index_missing_queue_build

WAIT_CAP_SECONDS = 60


class GenerationCreateThrottle(UserThrottle):
    scope = "generation_create"


# --- generations -------------------------------------------------------------------------------------


class GenerationListCreateApi(ApiMixin, generics.ListAPIView):
    serializer_class = GenerationSerializer
    filterset_class = GenerationFilter
    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]
    permission_classes = [HasModelPerm]
    required_perms = {"POST": ("generation.add_prompt",)}  # the API consumers' role

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(required=False, allow_blank=True, max_length=MAX_PROMPT_CHARS)
        template_version = serializers.UUIDField(
            required=False, allow_null=True, help_text="A template version id."
        )
        template = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=120,
            help_text="A template name: its production version.",
        )
        variables = StrictJSONField(
            required=False,
            help_text=f"Template variables, an object of strings or numbers; the rendered prompt is at most "
            f"{MAX_PROMPT_CHARS} characters.",
        )
        style_guide = serializers.UUIDField(required=False, allow_null=True)
        conversation = serializers.UUIDField(required=False, allow_null=True)
        images = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True),
            required=False,
            max_length=MAX_IMAGES,
            help_text="PNG or JPEG.",
        )
        count = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, default=1)
        model = serializers.CharField(
            default="production", max_length=200, help_text="Alias, name:version or id."
        )
        seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**62)
        temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
        wait = serializers.IntegerField(
            required=False, min_value=0, help_text="Seconds to wait (capped at 60)."
        )

        class Meta:
            ref_name = "GenerationCreate"

        def validate_variables(self, value: Any) -> dict[str, Any]:
            if value in (None, ""):
                return {}
            if not isinstance(value, dict) or not all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in value.values()
            ):
                raise serializers.ValidationError("An object of strings or numbers.")
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            given = [k for k in ("text", "template_version", "template") if attrs.get(k)]
            if len(given) > 1:
                raise serializers.ValidationError(
                    {given[1]: "Give only one of text, template_version, template."}
                )
            if not given and not attrs.get("conversation"):
                raise serializers.ValidationError({"text": "Give a prompt text or a template."})
            return attrs

    class QuerySerializer(serializers.Serializer):
        wait = serializers.IntegerField(required=False, min_value=0)

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return DesignOutput.objects.none()
        return selectors.generation_list(user=self.request.user)

    def get_throttles(self) -> list[Any]:
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(GenerationCreateThrottle())
        return throttles

    @extend_schema(
        summary="List your generation requests",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT)],
        responses={
            200: GenerationSerializer(many=True),
            **errors(CommonErrorCode.VALIDATION_ERROR, CommonErrorCode.NOT_FOUND),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Request designs",
        description=(
            "Queues a generation and answers 202 with its id and URL. With `wait` (query or body, seconds, "
            "capped at 60) the call blocks until the result is ready and answers 200 when it is."
        ),
        request={"application/json": InputSerializer, "multipart/form-data": InputSerializer},
        parameters=[
            OpenApiParameter("wait", OpenApiTypes.INT, description="Seconds to wait (capped at 60).")
        ],
        responses={
            200: GenerationSerializer,
            202: GenerationSerializer,
            **errors(
                CommonErrorCode.VALIDATION_ERROR,
                Codes.UNKNOWN_CONVERSATION,
                CatalogErrorCode.UNKNOWN_TEMPLATE,
                CatalogErrorCode.UNKNOWN_TEMPLATE_VERSION,
                CatalogErrorCode.UNKNOWN_STYLE_GUIDE,
                TrainingErrorCode.UNKNOWN_MODEL,
                TrainingErrorCode.UNTUNED_BASE_MODEL,
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        output = generation_create(
            user=request.user,
            text=v.get("text", ""),
            template_version_id=v.get("template_version"),
            template_name=v.get("template", ""),
            variables=v.get("variables") or {},
            style_guide_id=v.get("style_guide"),
            conversation_id=v.get("conversation"),
            images=v.get("images") or [],
            count=v["count"],
            model=v["model"],
            seed=v.get("seed"),
            temperature=v.get("temperature"),
        )
        self.log_prompt_id = output.prompt_id
        wait = min(WAIT_CAP_SECONDS, query.validated_data.get("wait") or v.get("wait") or 0)
        if wait:
            found = selectors.generation_wait(user=request.user, output=output, timeout=wait)
        else:
            found = selectors.generation_refresh(user=request.user, output=output)
        assert found is not None
        body = GenerationSerializer(found, context={"request": request}).data
        done = found.status in TERMINAL
        return Response(
            body,
            status=status.HTTP_200_OK if done else status.HTTP_202_ACCEPTED,
            headers={"Location": body["url"]},
        )


class GenerationDetailApi(ApiMixin, APIView):
    @extend_schema(
        summary="One generation request and its designs",
        parameters=[
            OpenApiParameter(
                "neighbours",
                OpenApiTypes.INT,
                description="0 to 10: each design carries the training examples nearest its rendering.",
            )
        ],
        responses={
            200: GenerationSerializer,
            **errors(
                Codes.GENERATION_NOT_FOUND,
                CommonErrorCode.VALIDATION_ERROR,
                TrainingErrorCode.SIMILARITY_INDEX_MISSING,
            ),
        },
    )
    def get(self, request: Request, pk: Any) -> Response:
        k = neighbours_param(request)
        output = selectors.generation_get(user=request.user, output_id=pk)
        if output is None:
            raise ApiError(Codes.GENERATION_NOT_FOUND)
        self.log_prompt_id = output.prompt_id
        context: dict[str, Any] = {"request": request}
        if k:
            try:
                context["neighbours"] = design_neighbours(output, k=k)
            except IndexMissing:
                index_missing_queue_build("a generation asked for neighbours")
                raise ApiError(TrainingErrorCode.SIMILARITY_INDEX_MISSING) from None
        return Response(GenerationSerializer(output, context=context).data)


def neighbours_param(request: Request) -> int:
    raw = request.query_params.get("neighbours", "0")
    if not raw.isdigit() or int(raw) > MAX_NEIGHBOURS:
        raise ValidationError({"neighbours": f"A whole number from 0 to {MAX_NEIGHBOURS}."})
    return int(raw)
