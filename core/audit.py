"""Which models the audit trail (django-auditlog) follows. Every entity of the data model is here."""

from __future__ import annotations

from django.apps import apps

AUDITED_MODELS: tuple[str, ...] = (
    "core.User",
    "catalog.StyleGuide",
    "catalog.DesignPattern",
    "catalog.PromptTemplate",
    "catalog.PromptTemplateVersion",
    "catalog.PromptTemplateLabel",
    "training.TrainingExample",
    "training.Review",
    "training.ReviewPolicy",
    "training.ImportBatch",
    "training.Dataset",
    "training.SLMModel",
    "training.ModelAlias",
    "training.TrainingRun",
    "generation.Conversation",
    "generation.Prompt",
    "generation.InputImage",
    "generation.DesignOutput",
    "generation.OutputImage",
    "feedback.Feedback",
    "integrations.WebhookSubscription",
)

# Fields that change every few seconds while a job runs; their history lives in events/metrics.
NOISY_FIELDS: dict[str, list[str]] = {
    "training.TrainingRun": [
        "progress",
        "step",
        "loss",
        "tokens_per_second",
        "eta_seconds",
        "heartbeat_at",
        "updated_at",
    ],
    "training.ImportBatch": ["rows_read", "progress", "heartbeat_at", "updated_at"],
    # The signing secret, even encrypted, stays out of the trail (a rotation shows as a change of nothing).
    "integrations.WebhookSubscription": ["secret_encrypted", "updated_at"],
}


def register_models() -> None:
    from auditlog.registry import auditlog

    for label in AUDITED_MODELS:
        model = apps.get_model(label)
        exclude = ["updated_at", *NOISY_FIELDS.get(label, [])]
        if label == "core.User":
            exclude += ["password", "last_login"]
        if label == "training.SLMModel":
            exclude += ["api_key_encrypted"]  # an external version's key stays out of the trail
        auditlog.register(model, exclude_fields=exclude)
