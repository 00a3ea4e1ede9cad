"""The model registry in the admin: versions (lineage, evaluate, compare, point an alias; the aliases
themselves and their history are in training.admin.aliases)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.safestring import mark_safe

from core.admin import BaseAdmin
from core.admin_pages import form_page, report_page
from core.humanize import count
from core.jobs.models import JobStatus
from training import selectors
from training.admin.external import external_register_view
from training.admin.quality import QUALITY_KEYS, GalleryImagesMixin, panel_for
from training.forms import AliasForm, BaseModelImportForm
from training.models import ModelEvaluation, SLMModel
from training.services.base_models import base_model_import_create
from training.services.evaluations import model_evaluation_create
from training.services.registry import model_alias_move, model_version_compute_type_set


@admin.register(SLMModel)
class SLMModelAdmin(GalleryImagesMixin, BaseAdmin):
    change_list_template = "admin/training/slmmodel/change_list.html"
    list_display = (
        "__str__",
        "architecture",
        "training_strategy",
        "alias_names",
        "parameters",
        "compute_type",
        "dataset",
        "base_model",
        "trained_at",
    )
    list_filter = ("architecture", "training_strategy", "compute_type", "model_name")
    search_fields = ("model_name", "notes")
    exclude = ("gallery", "api_key_encrypted")
    readonly_fields = (
        "quality",
        "lineage",
        "model_name",
        "version",
        "architecture",
        "model_config",
        "storage_path",
        "trained_at",
        "last_fine_tuned",
        "base_model",
        "training_strategy",
        "dataset",
        "metrics",
        "parameter_count",
        "compute_type",
        "external_service",
        "endpoint_url",
        "external_model",
        "prompt_recipe",
    )
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_version_list()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from finished training runs, or the base-model import below

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("training.change_slmmodel")  # ML staff; curators only view

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "may_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context=extra)

    def get_urls(self):
        return [
            path(
                "register-external/",
                self.admin_site.admin_view(lambda request: external_register_view(self, request)),
                name="training_slmmodel_register_external",
            ),
            path(
                "import-base/",
                self.admin_site.admin_view(self.import_base_view),
                name="training_slmmodel_import_base",
            ),
        ] + super().get_urls()

    def import_base_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a zipped Hugging Face model folder; it is checked, then registered as `pretrained`."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = BaseModelImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = base_model_import_create(
                    source=form.cleaned_data["file"], name=form.cleaned_data["name"], imported_by=request.user
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error("name" if field == "name" else "file", errors)
            else:
                self.message_user(
                    request,
                    f"{job.source_name} is stored; a worker checks it and registers it as {job.model_name}. "
                    "This page shows its progress, and the reason if it is refused.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:training_basemodelimport_change", args=[job.pk]))
        return form_page(
            request,
            self,
            title="Import a base model",
            form=form,
            intro="The upload is stored and a worker checks it before anything is registered: only a "
            "model's own files (no code), an architecture transformers knows, within the size limits, whose "
            "safetensors weights are complete and fit it, and a tokenizer that writes designs back exactly.",
            submit_label="Upload and import",
        )

    actions = ["evaluate", "evaluate_int8", "serve_int8", "serve_float32", "compare", "point_alias"]

    @admin.display(description="evaluation")
    def quality(self, obj: SLMModel) -> str:
        return panel_for(obj, note="this version was trained before the real-data evaluation; evaluate it")

    @admin.display(description="lineage")
    def lineage(self, obj: SLMModel) -> str:
        if not obj.pk:
            return "-"
        return mark_safe(render_to_string("admin/training/lineage.html", selectors.model_lineage(model=obj)))

    @admin.action(description="Evaluate on its snapshot's test split")
    def evaluate(self, request: HttpRequest, queryset: QuerySet, compute_type: str = "float32") -> None:
        if not request.user.has_perm("training.add_modelevaluation"):
            self.message_user(request, "Only ML staff may run evaluations.", messages.ERROR)
            return
        for model in queryset:
            try:
                model_evaluation_create(
                    model_version=model, requested_by=request.user, compute_type=compute_type
                )
                self.message_user(
                    request, f"Evaluation of {model} ({compute_type}) queued.", messages.SUCCESS
                )
            except ValidationError as exc:
                self.message_user(request, f"{model}: {'; '.join(exc.messages)}", messages.ERROR)

    @admin.action(description="Evaluate decoding in int8 (stored beside float32's metrics)")
    def evaluate_int8(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.evaluate(request, queryset, compute_type="int8")

    def _serve_as(self, request: HttpRequest, queryset: QuerySet, compute_type: str) -> None:
        for model in queryset:
            try:
                model_version_compute_type_set(
                    model_version=model, compute_type=compute_type, user=request.user
                )
                self.message_user(request, f"{model} is served in {compute_type}.", messages.SUCCESS)
            except (ValidationError, PermissionDenied) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{model}: {text}", messages.ERROR)

    @admin.action(description="Serve in int8 (after an int8 evaluation)")
    def serve_int8(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._serve_as(request, queryset, "int8")

    @admin.action(description="Serve in float32")
    def serve_float32(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._serve_as(request, queryset, "float32")

    @admin.action(description="Compare metrics side by side")
    def compare(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        models = list(queryset.order_by("model_name", "version"))
        latest_eval = {}
        for ev in ModelEvaluation.objects.filter(
            model_version__in=models, status=JobStatus.COMPLETED
        ).order_by("created_at"):
            latest_eval[ev.model_version_id] = ev.metrics
        merged = {
            m.pk: {**m.metrics, **{f"eval {k}": v for k, v in latest_eval.get(m.pk, {}).items()}}
            for m in models
        }
        # The real-data figures and their baselines first, in one order, then everything else.
        first = [k for k in QUALITY_KEYS if any(k in d for d in merged.values())]
        names = first + sorted({k for d in merged.values() for k in d} - set(first))

        def fmt(v: object) -> str:
            return f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v))

        rows = [[name, *[fmt(merged[m.pk].get(name)) for m in models]] for name in names]
        rows.insert(0, ["aliases", *[", ".join(a.name for a in m.aliases.all()) or "-" for m in models]])
        rows.insert(1, ["parameters", *[f"{m.parameter_count:,}" for m in models]])
        rows.insert(2, ["dataset", *[str(m.dataset or "-") for m in models]])
        return report_page(
            request,
            self,
            title="Model versions side by side",
            sections=[{"title": "Metrics", "headers": ["metric", *[str(m) for m in models]], "rows": rows}],
        )

    def has_point_alias_permission(self, request: HttpRequest) -> bool:
        # Offered to those who may create or move aliases; the service checks the move itself.
        return request.user.has_perm("training.add_modelalias") or request.user.has_perm(
            "training.change_modelalias"
        )

    @admin.action(
        description="Point an alias (staging, production, …) at this version", permissions=["point_alias"]
    )
    def point_alias(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose one version.", messages.WARNING)
            return None
        model = queryset.get()
        form = AliasForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            try:
                model_alias_move(
                    name=form.cleaned_data["alias"],
                    model_version=model,
                    moved_by=request.user,
                    note=form.cleaned_data["note"],
                    override_reason=form.cleaned_data["override_reason"],
                )
            except PermissionDenied as exc:
                form.add_error("alias", str(exc))
            except ValidationError as exc:
                fields = getattr(exc, "message_dict", {})
                if "override_reason" in fields:  # production's gate: the version has not learned its set
                    form.add_error("override_reason", fields["override_reason"])
                else:
                    form.add_error(None, "; ".join(exc.messages))
            else:
                message = f"{form.cleaned_data['alias']} now points at {model}."
                return self.message_user(request, message, messages.SUCCESS)
        return form_page(
            request,
            self,
            title=f"Point an alias at {model}",
            form=form,
            action="point_alias",
            selected=[str(model.pk)],
            submit_label="Move alias",
        )

    @admin.display(description="aliases")
    def alias_names(self, obj: SLMModel) -> str:
        return ", ".join(a.name for a in obj.aliases.all())

    @admin.display(description="parameters", ordering="parameter_count")
    def parameters(self, obj: SLMModel) -> str:
        return count(obj.parameter_count)
