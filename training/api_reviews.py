"""Reviews through the API, for curators: read an example's reviews (others' verdicts hidden until you
gave yours, unless you hold “view all reviews”) and give or change your own."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiMixin, HasModelPerm
from core.api_errors import ApiError, errors
from core.errors import CommonErrorCode
from training import selectors_reviews
from training.errors import TrainingErrorCode
from training.models import Review, TrainingExample
from training.services.reviews import review_submit


class ReviewSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reviewer = serializers.CharField(source="reviewer.username")
    verdict = serializers.CharField()
    score = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField()
    settles = serializers.BooleanField(help_text="A curator's settlement of a disagreement, not a vote.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ExampleReviewsSerializer(serializers.Serializer):
    example = serializers.UUIDField()
    status = serializers.CharField()
    quality_score = serializers.FloatField(allow_null=True)
    reviews = ReviewSerializer(many=True)
    hidden = serializers.IntegerField(help_text="Others' reviews not shown until you give yours.")


class ReviewInputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    score = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class ExampleReviewsApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"GET": ("training.view_review",), "POST": ("training.add_review",)}

    def _example(self, pk: Any) -> TrainingExample:
        example = TrainingExample.objects.filter(pk=pk).first()
        if example is None:
            raise ApiError(TrainingErrorCode.EXAMPLE_NOT_FOUND)
        return example

    def _answer(self, request: Request, example: TrainingExample, status: int = 200) -> Response:
        reviews, hidden = selectors_reviews.example_reviews_visible(example=example, user=request.user)
        data = {
            "example": example.pk,
            "status": example.status,
            "quality_score": example.quality_score,
            "reviews": reviews,
            "hidden": hidden,
        }
        return Response(ExampleReviewsSerializer(data).data, status=status)

    @extend_schema(
        summary="An example's reviews: others' verdicts only once you gave yours",
        description="Curators. Without the “view all reviews” permission, other reviewers' verdicts are "
        "hidden (counted in `hidden`) until you have reviewed the example yourself.",
        responses={200: ExampleReviewsSerializer, **errors(TrainingErrorCode.EXAMPLE_NOT_FOUND)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        return self._answer(request, self._example(pk))

    @extend_schema(
        summary="Give or change your review of an example; its status follows under its queue's policy",
        request=ReviewInputSerializer,
        responses={
            200: ExampleReviewsSerializer,
            **errors(CommonErrorCode.VALIDATION_ERROR, TrainingErrorCode.EXAMPLE_NOT_FOUND),
        },
    )
    def post(self, request: Request, pk: Any) -> Response:
        example = self._example(pk)
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review_submit(example=example, reviewer=request.user, **data.validated_data)
        example.refresh_from_db()
        return self._answer(request, example)
