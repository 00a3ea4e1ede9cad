"""Search for curators: examples by words (`examples/search/?q=`) and by picture (`examples/<id>/similar/`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiMixin, HasModelPerm
from core.api_errors import ApiError, errors
from core.errors import CommonErrorCode
from training import selectors
from training.errors import TrainingErrorCode
from training.selectors_search import training_example_search
from training.services import similarity_index
from training.services.similarity import neighbours_of_example, similarity_index_build_request

MAX_RESULTS = 100


class ExampleHitSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="external_id")
    prompt = serializers.CharField()
    tags = serializers.JSONField()
    category = serializers.CharField(source="data_category")
    status = serializers.CharField()


class SearchHitSerializer(ExampleHitSerializer):
    rank = serializers.FloatField(source="word_rank")


class SearchOutputSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = SearchHitSerializer(many=True)


class NeighbourSerializer(serializers.Serializer):
    example = ExampleHitSerializer()
    similarity = serializers.FloatField(
        help_text="Cosine similarity of the two fingerprints, 1 = same picture."
    )
    near_duplicate = serializers.BooleanField(help_text="At or above NEAR_DUPLICATE_SIMILARITY.")


class SimilarOutputSerializer(serializers.Serializer):
    example = serializers.UUIDField()
    rendered = serializers.BooleanField(
        help_text="False: the example has no rendering, so nothing is near it."
    )
    results = NeighbourSerializer(many=True)


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RESULTS:
        raise ValidationError({"limit": f"A whole number from 1 to {MAX_RESULTS}."})
    return int(raw)


def index_missing() -> ApiError:
    """503, with a rebuild queued (or the one already queued kept)."""
    similarity_index_build_request(reason="a search found no index")
    return ApiError(TrainingErrorCode.SIMILARITY_INDEX_MISSING)


class ExampleSearchApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"GET": ("training.view_trainingexample",)}

    @extend_schema(
        summary="Examples whose name, tags, prompt or category hold every word of q, best first",
        parameters=[
            OpenApiParameter("q", str, required=True, description="Words, 1 to 500 characters."),
            OpenApiParameter("limit", int, description=f"Results, 1 to {MAX_RESULTS} (default 20)."),
        ],
        responses={
            200: SearchOutputSerializer,
            **errors(
                CommonErrorCode.VALIDATION_ERROR,
                TrainingErrorCode.EMPTY_QUERY,
                TrainingErrorCode.QUERY_TOO_LONG,
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        limit = _limit(request, 20)
        try:
            hits = list(training_example_search(query=query, qs=selectors.training_example_list())[:limit])
        except ValidationError as exc:
            raise ValidationError({"q": exc}) from exc
        return Response(SearchOutputSerializer({"query": query, "results": hits}).data)


class ExampleSimilarApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"GET": ("training.view_trainingexample",)}

    @extend_schema(
        summary="The examples whose renderings look most like this one's (search by picture)",
        parameters=[OpenApiParameter("limit", int, description=f"Results, 1 to {MAX_RESULTS} (default 10).")],
        responses={
            200: SimilarOutputSerializer,
            **errors(
                CommonErrorCode.VALIDATION_ERROR,
                TrainingErrorCode.EXAMPLE_NOT_FOUND,
                TrainingErrorCode.SIMILARITY_INDEX_MISSING,
            ),
        },
    )
    def get(self, request: Request, pk: Any) -> Response:
        limit = _limit(request, 10)
        example = selectors.training_example_list().filter(pk=pk).first()
        if example is None:
            raise ApiError(TrainingErrorCode.EXAMPLE_NOT_FOUND)
        try:
            found = neighbours_of_example(example, k=limit)
        except similarity_index.IndexMissing:
            raise index_missing() from None
        out = {"example": example.pk, "rendered": found is not None, "results": found or []}
        return Response(SimilarOutputSerializer(out).data)
