"""Base-model imports in the admin: each import's step, progress, the reason it was refused, and the
model version it registered (the upload page is on the model registry: training.admin.registry)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin
from core.jobs.models import JOB_FIELDS
from training import selectors
from training.models import BaseModelImport


@admin.register(BaseModelImport)
class BaseModelImportAdmin(ReadOnlyAdmin):
    list_display = ("source_name", "model_name", "status", "step", "result_model", "created_by", "created_at")
    list_filter = ("status",)
    search_fields = ("source_name", "model_name")
    fields = (
        "source_name",
        "model_name",
        "created_by",
        "progress_bar",
        "step",
        "error_message",
        "model_link",
    )
    readonly_fields = (*fields, *JOB_FIELDS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[BaseModelImport]:
        return selectors.base_model_import_list()

    @admin.display(description="progress")
    def progress_bar(self, obj: BaseModelImport) -> str:
        return format_html(
            '<progress value="{}" max="1" style="width:20em"></progress> {}% ({})',
            obj.progress,
            round(obj.progress * 100),
            obj.get_status_display(),
        )

    @admin.display(description="model version")
    def model_link(self, obj: BaseModelImport) -> str:
        if obj.result_model_id is None:
            return "-"
        url = reverse("admin:training_slmmodel_change", args=[obj.result_model_id])
        return format_html('<a href="{}">{}</a>', url, obj.result_model)
