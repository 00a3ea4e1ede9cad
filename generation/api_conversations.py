"""The public API's conversations, /api/v1/conversations/: start one, list yours, read one and the
context it carries to the next prompt.

Every view is a core.api view (auth, throttling, the error shape, the request log); a user sees only
their own rows (others' ids answer 404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiMixin, HasModelPerm
from core.api_errors import ApiError, errors
from core.errors import CommonErrorCode
from generation import selectors
from generation.errors import GenerationErrorCode as Codes
from generation.models import Conversation
from generation.serializers import ConversationSerializer
from generation.services.conversations import conversation_create


class ConversationListCreateApi(ApiMixin, generics.ListAPIView):
    serializer_class = ConversationSerializer
    permission_classes = [HasModelPerm]
    required_perms = {"POST": ("generation.add_conversation",)}  # the API consumers' role

    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

        class Meta:
            ref_name = "ConversationCreate"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Conversation.objects.none()
        return selectors.conversation_list(user=self.request.user).order_by("-updated_at")

    @extend_schema(
        summary="List your conversations",
        responses={200: ConversationSerializer(many=True), **errors(CommonErrorCode.NOT_FOUND)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a conversation: its context (style guide, palette, template) carries to the next prompt",
        request=InputSerializer,
        responses={201: ConversationSerializer, **errors(CommonErrorCode.VALIDATION_ERROR)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_create(user=request.user, **data.validated_data)
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailApi(ApiMixin, APIView):
    @extend_schema(
        summary="One conversation and its carried context",
        responses={200: ConversationSerializer, **errors(Codes.CONVERSATION_NOT_FOUND)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        conversation = selectors.conversation_get(user=request.user, conversation_id=pk)
        if conversation is None:
            raise ApiError(Codes.CONVERSATION_NOT_FOUND)
        return Response(ConversationSerializer(conversation).data)
