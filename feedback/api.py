"""Ratings through the API: rate your designs (one rating per design, editable), list them, read aggregates."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiMixin, HasModelPerm
from core.api_errors import ApiError, errors
from core.errors import CommonErrorCode
from feedback import selectors, services
from feedback.errors import FeedbackErrorCode
from feedback.models import Feedback
from generation import selectors as generation_selectors
from generation.errors import GenerationErrorCode


class FeedbackSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    generation = serializers.UUIDField(source="output_id")
    rating = serializers.IntegerField()
    comments = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RatingInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comments = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class GenerationFeedbackApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"POST": ("feedback.add_feedback",)}  # the API consumers' role

    @extend_schema(
        summary="Rate one of your designs (1–5); rating again edits your rating",
        request=RatingInputSerializer,
        responses={
            200: FeedbackSerializer,
            **errors(
                CommonErrorCode.VALIDATION_ERROR,
                FeedbackErrorCode.NOT_RATEABLE,
                GenerationErrorCode.GENERATION_NOT_FOUND,
            ),
        },
    )
    def post(self, request: Request, pk: Any) -> Response:
        output = generation_selectors.generation_get(user=request.user, output_id=pk)
        if output is None:
            raise ApiError(GenerationErrorCode.GENERATION_NOT_FOUND)
        self.log_prompt_id = output.prompt_id
        data = RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_upsert(output=output, user=request.user, **data.validated_data)
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_200_OK)


class FeedbackListApi(ApiMixin, generics.ListAPIView):
    serializer_class = FeedbackSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Feedback.objects.none()
        return selectors.feedback_list(user=self.request.user).order_by("-updated_at")

    @extend_schema(
        summary="Your ratings",
        responses={200: FeedbackSerializer(many=True), **errors(CommonErrorCode.NOT_FOUND)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class FeedbackDetailApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"PATCH": ("feedback.change_feedback",)}  # the API consumers' role

    def _own(self, request: Request, pk: Any) -> Feedback:
        feedback = selectors.feedback_list(user=request.user).filter(pk=pk).first()
        if feedback is None:
            raise ApiError(FeedbackErrorCode.FEEDBACK_NOT_FOUND)
        return feedback

    @extend_schema(
        summary="One of your ratings",
        responses={200: FeedbackSerializer, **errors(FeedbackErrorCode.FEEDBACK_NOT_FOUND)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(FeedbackSerializer(self._own(request, pk)).data)

    @extend_schema(
        summary="Edit your rating",
        request=RatingInputSerializer(partial=True),
        responses={
            200: FeedbackSerializer,
            **errors(CommonErrorCode.VALIDATION_ERROR, FeedbackErrorCode.FEEDBACK_NOT_FOUND),
        },
    )
    def patch(self, request: Request, pk: Any) -> Response:
        feedback = self._own(request, pk)
        data = RatingInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_update(feedback=feedback, user=request.user, **data.validated_data)
        return Response(FeedbackSerializer(feedback).data)


class AggregateSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    mean = serializers.FloatField()
    distribution = serializers.DictField(child=serializers.IntegerField())


class FeedbackAggregatesApi(ApiMixin, APIView):
    @extend_schema(
        summary="Rating count, mean and distribution per model version, template version or style guide",
        description=(
            "Only groups you may see: every model version, public templates and your own private ones, "
            "published style guides. Ratings of deleted generations are left out."
        ),
        parameters=[OpenApiParameter("by", str, enum=["model_version", "template_version", "style_guide"])],
        responses={200: AggregateSerializer(many=True), **errors(CommonErrorCode.VALIDATION_ERROR)},
    )
    def get(self, request: Request) -> Response:
        by = request.query_params.get("by", "model_version")
        try:
            rows = selectors.feedback_aggregates(by=by, user=request.user)
        except ValueError as exc:
            raise exceptions.ValidationError({"by": [str(exc)]}) from exc
        return Response(AggregateSerializer(rows, many=True).data)
