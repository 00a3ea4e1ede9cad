"""Training runs in the admin: the live run page (progress, loss curve, events), cancel, events, metrics."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from core.admin import BaseAdmin, ReadOnlyAdmin
from core.humanize import count, measure, rate
from training import selectors
from training.admin.quality import panel_for, panel_for_metrics
from training.models import TrainingMetric, TrainingRun, TrainingRunEvent
from training.services.runs import training_run_cancel


@admin.register(TrainingRun)
class TrainingRunAdmin(BaseAdmin):
    change_form_template = "admin/training/trainingrun/change_form.html"

    list_display = (
        "__str__",
        "status",
        "progress_pct",
        "steps",
        "loss_shown",
        "speed",
        "training_type",
        "result_model",
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "training_type")
    search_fields = ("id", "dataset__name", "model_name", "error_message")
    autocomplete_fields = ("dataset", "base_model")
    readonly_fields = (
        "quality",
        "status",
        "progress",
        "step",
        "total_steps",
        "loss",
        "tokens_per_second",
        "eta_seconds",
        "error_message",
        "started_at",
        "finished_at",
        "cancel_requested",
        "worker_id",
        "heartbeat_at",
        "attempts",
        "result_model",
        "requested_by",
    )
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_run_list()

    @admin.display(description="evaluation")
    def quality(self, obj: TrainingRun) -> str:
        if obj.result_model is None:
            return panel_for_metrics({}, note="the run has registered no model yet")
        return panel_for(obj.result_model)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start from a snapshot's "Train a model" action

    def get_readonly_fields(self, request: HttpRequest, obj: TrainingRun | None = None) -> tuple[str, ...]:
        return ("quality", *(f.name for f in self.model._meta.fields))

    def get_urls(self):
        return [
            path(
                "<uuid:pk>/progress.json",
                self.admin_site.admin_view(self.progress_view),
                name="training_trainingrun_progress",
            ),
            path(
                "<uuid:pk>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="training_trainingrun_cancel",
            ),
        ] + super().get_urls()

    def progress_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        run = get_object_or_404(TrainingRun, pk=pk)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return JsonResponse(selectors.training_run_progress(run=run))

    def cancel_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        run = get_object_or_404(TrainingRun, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, run):
            raise PermissionDenied
        try:
            training_run_cancel(run=run, cancelled_by=request.user)
            self.message_user(
                request, "Cancel requested; the run stops after its current step.", messages.WARNING
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        return redirect(reverse("admin:training_trainingrun_change", args=[run.pk]))

    @admin.display(description="progress", ordering="progress")
    def progress_pct(self, obj: TrainingRun) -> str:
        return f"{obj.progress * 100:.0f}%"

    @admin.display(description="step", ordering="step")
    def steps(self, obj: TrainingRun) -> str:
        return count(obj.step)

    @admin.display(description="loss", ordering="loss")
    def loss_shown(self, obj: TrainingRun) -> str:
        return measure(obj.loss) if obj.loss is not None else "–"

    @admin.display(description="tokens/s", ordering="tokens_per_second")
    def speed(self, obj: TrainingRun) -> str:
        return rate(obj.tokens_per_second) if obj.tokens_per_second else "–"


@admin.register(TrainingRunEvent)
class TrainingRunEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "run", "level", "message")
    list_filter = ("level",)
    search_fields = ("message",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_run_event_list()


@admin.register(TrainingMetric)
class TrainingMetricAdmin(ReadOnlyAdmin):
    list_display = ("run", "name", "step", "value_shown", "created_at")

    @admin.display(description="value", ordering="value")
    def value_shown(self, obj: TrainingMetric) -> str:
        return measure(obj.value)

    list_filter = ("name",)
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_metric_list()
