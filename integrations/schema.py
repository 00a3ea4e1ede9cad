"""The webhooks section of the OpenAPI schema (SPECTACULAR_SETTINGS["WEBHOOKS"]): one entry per event,
each the Standard Webhooks envelope `{type, timestamp, data: {id, url, summary}}`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiWebhook, extend_schema, inline_serializer
from rest_framework import serializers

from core import events

_SUMMARIES: dict[str, tuple[str, dict[str, Any]]] = {
    events.IMPORT_FINISHED: (
        "An import of training examples ended (completed or failed).",
        {
            "status": serializers.CharField(),
            "dry_run": serializers.BooleanField(),
            "created": serializers.IntegerField(),
        },
    ),
    events.SNAPSHOT_READY: (
        "A dataset snapshot was exported and can be trained on.",
        {
            "name": serializers.CharField(),
            "version": serializers.IntegerField(),
            "records": serializers.IntegerField(),
        },
    ),
    events.TRAINING_RUN_FINISHED: (
        "A training run completed and registered a model version.",
        {
            "status": serializers.CharField(),
            "message": serializers.CharField(),
            "result_model_id": serializers.UUIDField(),
        },
    ),
    events.TRAINING_RUN_FAILED: (
        "A training run failed; `message` says why.",
        {"status": serializers.CharField(), "message": serializers.CharField()},
    ),
    events.MODEL_VERSION_REGISTERED: (
        "A new model version is in the registry.",
        {"model_name": serializers.CharField(), "version": serializers.IntegerField()},
    ),
    events.ALIAS_MOVED: (
        "An alias (production, say) points at another version: from, to, who and why.",
        {
            "name": serializers.CharField(),
            "from": serializers.CharField(allow_null=True),
            "to": serializers.CharField(),
            "who": serializers.CharField(),
            "why": serializers.CharField(),
        },
    ),
    events.FEEDBACK_CREATED: (
        "A user rated a generation for the first time.",
        {"rating": serializers.IntegerField(), "generation_id": serializers.UUIDField()},
    ),
    events.REVIEW_SETTLED: (
        "A training example's status was decided by its reviews, or a curator settled it.",
        {
            "status": serializers.CharField(help_text="draft, approved or rejected"),
            "state": serializers.CharField(help_text="accepted, rejected, needs_changes or settled"),
            "reviews": serializers.IntegerField(),
            "by": serializers.CharField(),
            "quality_score": serializers.FloatField(allow_null=True),
        },
    ),
    events.GENERATION_COMPLETED: (
        "A generation completed (opt-in per subscription: one per request).",
        {"designs": serializers.IntegerField(), "model_version_id": serializers.CharField()},
    ),
}

SIGNATURE_HELP = (
    " Signed as Standard Webhooks says: headers webhook-id (the same on every retry: de-duplicate on it), "
    "webhook-timestamp and webhook-signature; verify with standardwebhooks.Webhook(secret).verify(body, headers). "
    "Answer 2xx within 10 s; anything else is retried with exponential backoff over about a day."
)


def _webhook(event_type: str, description: str, summary: dict[str, Any]) -> OpenApiWebhook:
    name = event_type.replace(".", "_").title().replace("_", "")
    data = inline_serializer(
        f"{name}Data",
        {
            "id": serializers.UUIDField(),
            "url": serializers.CharField(help_text="The object's API path, when it has one."),
            "summary": inline_serializer(f"{name}Summary", summary),
        },
    )
    body = inline_serializer(
        f"{name}Event",
        {
            "type": serializers.ChoiceField(choices=[event_type]),
            "timestamp": serializers.DateTimeField(),
            "data": data,
        },
    )
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=description,
            description=description + SIGNATURE_HELP,
            request=body,
            responses={200: None},
        ),
    )


WEBHOOKS = [_webhook(event_type, *_SUMMARIES[event_type]) for event_type in events.EVENT_TYPES]
