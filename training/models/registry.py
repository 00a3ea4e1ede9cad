"""The model registry: model versions, their aliases (and every move of one), and their evaluations."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from core.jobs.models import Job
from core.models import BaseModel
from training.models.snapshots import Dataset

USER = settings.AUTH_USER_MODEL


def validate_alias_name(value: str) -> None:
    """An alias name never reads as another way of naming a version (training.selectors.model_version_resolve
    tries a version id first, then `name:version`, then an alias): not a UUID, not `name:version`."""
    if ":" in value:
        raise ValidationError("An alias name cannot contain ':' (name:version names a version).")
    try:
        uuid.UUID(value)
    except ValueError:
        return
    raise ValidationError("An alias name cannot be a UUID (UUIDs name model versions).")


class ComputeType(models.TextChoices):
    """CTranslate2's compute types a model version may be served (and evaluated) in."""

    FLOAT32 = "float32", "float32"
    INT8 = "int8", "int8"


class SLMModelStrategy(models.TextChoices):
    FROM_SCRATCH = "from_scratch", "From scratch"
    FINE_TUNE = "fine_tune", "Fine-tune"
    PRETRAINED = "pretrained", "Pretrained (imported base model)"


class ExternalService(models.TextChoices):
    """Seed 004's external services: a version served by an OpenAI-compatible endpoint, not decoded here."""

    NONE = "", "None (trained here)"
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic (OpenAI-compatible endpoint)"
    SELF_HOSTED = "self_hosted", "Self-hosted (vLLM, TGI, llama.cpp, Atelier)"
    HYBRID = "hybrid", "Hybrid"


class SLMModel(BaseModel):
    """One trained model version in the registry."""

    Strategy = SLMModelStrategy
    model_name = models.SlugField(max_length=120, default="atelier-slm")
    version = models.PositiveIntegerField()
    architecture = models.CharField(max_length=60, default="gpt2")
    model_config = models.JSONField(default=dict, blank=True)
    storage_path = models.CharField(
        max_length=1000, blank=True, help_text="Artifacts in the configured storage."
    )
    trained_at = models.DateTimeField(null=True, blank=True)
    last_fine_tuned = models.DateTimeField(null=True, blank=True)
    base_model = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fine_tuned_versions"
    )
    training_strategy = models.CharField(
        max_length=20, choices=Strategy.choices, default=Strategy.FROM_SCRATCH
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="models"
    )
    metrics = models.JSONField(default=dict, blank=True)
    gallery = models.JSONField(
        default=list, blank=True, help_text="Reference and generated designs of its evaluation, as SVG."
    )
    parameter_count = models.PositiveBigIntegerField(default=0)
    compute_type = models.CharField(
        max_length=12,
        choices=ComputeType.choices,
        default=ComputeType.FLOAT32,
        help_text="How CTranslate2 computes this version when serving it. int8 only after an int8 "
        "evaluation stored its metrics beside float32's.",
    )
    notes = models.TextField(blank=True)
    # External versions (training.services.external): generation and evaluation call this endpoint.
    external_service = models.CharField(
        max_length=20, choices=ExternalService.choices, default="", blank=True
    )
    endpoint_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="OpenAI-compatible base URL (…/v1).",
    )
    external_model = models.CharField(max_length=200, blank=True, help_text="The endpoint's model name.")
    api_key_encrypted = models.TextField(blank=True, editable=False)  # Fernet (EXTERNAL_KEYS_FERNET)
    prompt_recipe = models.JSONField(
        default=dict, blank=True, help_text="System prompt (with the style guide) and few-shot examples."
    )

    @property
    def is_external(self) -> bool:
        return bool(self.external_service)

    class Meta(BaseModel.Meta):
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [
            models.Index(fields=["architecture"]),
            models.Index(fields=["training_strategy"]),
            models.Index(fields=["compute_type"]),
        ]
        verbose_name = "model version"
        constraints = [
            models.UniqueConstraint(fields=["model_name", "version"], name="slmmodel_name_version_unique"),
            models.CheckConstraint(
                condition=Q(training_strategy__in=SLMModelStrategy.values),
                name="slmmodel_strategy_valid",
            ),
        ]
        permissions = [("move_production_alias", "Can move the production alias")]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version}"


class ModelAlias(BaseModel):
    name = models.SlugField(max_length=60, unique=True, validators=[validate_alias_name])
    model_version = models.ForeignKey(SLMModel, on_delete=models.PROTECT, related_name="aliases")
    updated_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(BaseModel.Meta):
        verbose_name_plural = "model aliases"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.model_version}"


class ModelAliasEvent(BaseModel):
    """Every move of an alias: which version was live when, and who moved it."""

    alias = models.ForeignKey(ModelAlias, on_delete=models.CASCADE, related_name="events")
    from_version = models.ForeignKey(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_version = models.ForeignKey(SLMModel, null=True, on_delete=models.SET_NULL, related_name="+")
    moved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why ML staff moved production to a version whose verdict is “not learned”.",
    )

    class Meta(BaseModel.Meta):
        indexes = [models.Index(fields=["alias", "created_at"])]

    def __str__(self) -> str:
        return f"{self.alias.name}: {self.from_version} → {self.to_version}"


class ModelEvaluation(Job):
    exhausted_message = "The evaluation did not finish after several attempts."

    model_version = models.ForeignKey(SLMModel, on_delete=models.CASCADE, related_name="evaluations")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    compute_type = models.CharField(max_length=12, choices=ComputeType.choices, default=ComputeType.FLOAT32)
    metrics = models.JSONField(default=dict, blank=True)
    gallery = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [models.Index(fields=["status", "created_at"])]
        pass

    def __str__(self) -> str:
        return f"Evaluation of {self.model_version} ({self.status})"
