"""Training runs: the job, its events and its metric points."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.jobs.models import Job
from training.models.registry import SLMModel, validate_alias_name
from training.models.snapshots import Dataset

USER = settings.AUTH_USER_MODEL


class TrainingRun(Job):
    exhausted_message = "The run did not finish after several attempts."

    class TrainingType(models.TextChoices):
        FROM_SCRATCH = "from_scratch", "From scratch"
        FINE_TUNE = "fine_tune", "Fine-tune"

    model_name = models.SlugField(max_length=120, default="atelier-slm")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="training_runs")
    base_model = models.ForeignKey(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    result_model = models.OneToOneField(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_run"
    )
    training_type = models.CharField(
        max_length=20, choices=TrainingType.choices, default=TrainingType.FROM_SCRATCH
    )
    training_params = models.JSONField(default=dict, blank=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    tokens_per_second = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    promote_to = models.SlugField(
        max_length=60,
        blank=True,
        validators=[validate_alias_name],
        help_text="Alias to point at the result when done.",
    )
    promote_override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Move production to the result even if its verdict is “not learned”, for this reason.",
    )
    requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [models.Index(fields=["training_type"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Run {str(self.pk)[:8]} on {self.dataset}"


class TrainingRunEventLevel(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class TrainingRunEvent(models.Model):
    Level = TrainingRunEventLevel
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [models.Index(fields=["level"])]
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=TrainingRunEventLevel.values), name="runevent_level_valid"
            )
        ]

    def __str__(self) -> str:
        return f"[{self.level}] {self.message[:60]}"


class TrainingMetric(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    name = models.CharField(max_length=60)
    value = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [models.Index(fields=["name"])]
        ordering = ["run", "name", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "name", "step"], name="metric_unique_point")]

    def __str__(self) -> str:
        return f"{self.name}@{self.step}={self.value:.4g}"
