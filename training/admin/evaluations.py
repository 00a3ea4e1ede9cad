"""Model evaluations in the admin (read-only: they are queued from a model version's action)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import BaseAdmin
from core.jobs.models import JOB_FIELDS
from training import selectors
from training.admin.quality import GalleryImagesMixin, panel_for
from training.models import ModelEvaluation


@admin.register(ModelEvaluation)
class ModelEvaluationAdmin(GalleryImagesMixin, BaseAdmin):
    list_display = ("model_version", "status", "dataset", "requested_by", "finished_at", "created_at")
    list_filter = ("status",)
    search_fields = ("model_version__model_name",)
    autocomplete_fields = ("model_version", "dataset")
    exclude = ("gallery",)
    readonly_fields = ("quality", *JOB_FIELDS, "metrics", "requested_by")

    @admin.display(description="evaluation")
    def quality(self, obj: ModelEvaluation) -> str:
        return panel_for(obj, note="it has not finished")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_evaluation_list()
