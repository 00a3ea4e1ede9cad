"""Model aliases through the API: where each points with its recent history, and moving one (ML staff),
through the registry service and its gate: `production` never moves to a version whose verdict is
"not learned" unless `override_reason` says why (400 with that field's error otherwise)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiMixin, HasModelPerm
from core.api_errors import errors
from core.errors import CommonErrorCode
from training import selectors
from training.errors import TrainingErrorCode
from training.models import ModelAlias, SLMModel
from training.services.registry import model_alias_move

HISTORY = 20  # moves shown per alias, newest first


class AliasEventSerializer(serializers.Serializer):
    from_version = serializers.CharField(allow_null=True)
    to_version = serializers.CharField(allow_null=True)
    moved_by = serializers.CharField(source="moved_by.username", allow_null=True, default=None)
    note = serializers.CharField()
    override_reason = serializers.CharField(
        help_text="Why ML staff moved production to a version whose verdict is “not learned”."
    )
    created_at = serializers.DateTimeField()


class AliasSerializer(serializers.Serializer):
    name = serializers.CharField()
    model_version = serializers.UUIDField(source="model_version_id")
    model = serializers.CharField(source="model_version", help_text="name:version")
    updated_at = serializers.DateTimeField()
    history = AliasEventSerializer(source="recent_events", many=True)


class AliasMoveSerializer(serializers.Serializer):
    model = serializers.CharField(
        max_length=200, help_text="The version: its UUID, name:version or an alias."
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed to move production to a version whose verdict is “not learned”; kept in the history.",
    )

    def validate_model(self, value: str) -> SLMModel:
        try:
            return selectors.model_version_resolve(ref=value)
        except SLMModel.DoesNotExist as exc:
            raise serializers.ValidationError(str(exc), code=TrainingErrorCode.UNKNOWN_MODEL) from None


def _aliases() -> Any:
    events = selectors.model_alias_event_list().order_by("-created_at")
    return (
        selectors.model_alias_list()
        .defer("model_version__gallery")
        .prefetch_related(Prefetch("events", queryset=events, to_attr="all_events"))
    )


def _with_history(alias: ModelAlias) -> ModelAlias:
    alias.recent_events = alias.all_events[:HISTORY]  # type: ignore[attr-defined]
    return alias


class AliasListApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"GET": ("training.view_modelalias",)}

    @extend_schema(
        summary="Model aliases, where each points and its recent moves",
        responses={200: AliasSerializer(many=True), **errors()},
    )
    def get(self, request: Request) -> Response:
        return Response(AliasSerializer([_with_history(a) for a in _aliases()], many=True).data)


class AliasMoveApi(ApiMixin, APIView):
    permission_classes = [HasModelPerm]  # the registry service checks who may move which alias

    @extend_schema(
        summary="Point an alias (created if new) at a version; production refuses a version that has "
        "not learned its set unless override_reason says why",
        request=AliasMoveSerializer,
        responses={
            200: AliasSerializer,
            **errors(
                CommonErrorCode.VALIDATION_ERROR,
                TrainingErrorCode.UNKNOWN_MODEL,
                TrainingErrorCode.NOT_LEARNED,
            ),
        },
    )
    def put(self, request: Request, name: str) -> Response:
        data = AliasMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        model_alias_move(
            name=name,
            model_version=v["model"],
            moved_by=request.user,
            note=v["note"],
            override_reason=v["override_reason"],
        )
        return Response(AliasSerializer(_with_history(_aliases().get(name=name))).data)
