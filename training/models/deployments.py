"""Deployments (seed 004): per alias, the endpoint it serves from and its health, from a periodic check
(training.services.deployments; `python manage.py check_deployments`)."""

from __future__ import annotations

from django.db import models

from core.models import BaseModel
from training.models.registry import ModelAlias


class DeploymentStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    HEALTHY = "healthy", "Healthy"
    FAILING = "failing", "Failing"


class Deployment(BaseModel):
    Status = DeploymentStatus
    alias = models.OneToOneField(ModelAlias, on_delete=models.CASCADE, related_name="deployment")
    endpoint_url = models.CharField(max_length=500, blank=True, help_text="Empty: decoded in-process here.")
    status = models.CharField(
        max_length=10, choices=DeploymentStatus.choices, default=DeploymentStatus.UNKNOWN
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        ordering = ["alias__name"]

    def __str__(self) -> str:
        return f"{self.alias.name}: {self.get_status_display()}"
