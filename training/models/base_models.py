"""Base-model imports: the job that checks and registers a Hugging Face folder as a model version."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.jobs.models import Job
from training.models.registry import SLMModel

USER = settings.AUTH_USER_MODEL


class BaseModelImport(Job):
    """One base-model import (training.services.base_models): its source is checked and registered by a
    worker; the row shows the step, the progress, the reason it was refused, and the model it made."""

    exhausted_message = "The base-model import did not finish after several attempts."

    model_name = models.SlugField(max_length=120)
    source = models.CharField(max_length=1000, editable=False)  # a path, storage:PREFIX, or a stored upload
    source_name = models.CharField(max_length=500)
    stored_upload = models.BooleanField(default=False, editable=False)  # `source` is ours: deleted after
    step = models.CharField(max_length=200, blank=True)
    result_model = models.ForeignKey(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [models.Index(fields=["status", "created_at"])]
        pass

    def __str__(self) -> str:
        return f"Import of {self.source_name} as {self.model_name} ({self.get_status_display()})"
