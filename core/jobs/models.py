"""The abstract job row: one status vocabulary, attempts, the worker holding it, its heartbeat, progress,
the error and timings. Every job model (imports, exports, runs, evaluations, generations) inherits it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.models import BaseModel


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)
# Written by workers only: read-only wherever a job row is shown for editing (the admin).
JOB_FIELDS = (
    "status",
    "attempts",
    "worker_id",
    "heartbeat_at",
    "progress",
    "error_message",
    "started_at",
    "finished_at",
)


class Job(BaseModel):
    # What a row says when its attempts are used up (a kind may say it in its own words).
    exhausted_message = "The job did not finish after several attempts."

    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    worker_id = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(default=0.0)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        abstract = True
        constraints = [
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="%(class)s_status_valid"),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="%(class)s_progress_range"
            ),
        ]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL
