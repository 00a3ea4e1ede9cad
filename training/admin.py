from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as PermissionDeniedAdmin
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe as mark_safe_html
from django.views.decorators.cache import cache_control

from core.admin import BaseAdmin, ReadOnlyAdmin, SoftDeleteAdmin
from core.admin_pages import form_page, report_page, thumbnail_response
from training import selectors, services
from training.forms import AliasForm, ImportUploadForm, SnapshotForm, TrainForm, TrainingExampleForm
from training.models import (
    Dataset,
    DatasetItem,
    ImportBatch,
    ModelAlias,
    ModelAliasEvent,
    ModelEvaluation,
    SLMModel,
    TrainingExample,
    TrainingMetric,
    TrainingRun,
    TrainingRunEvent,
)


def method_decorator_cache(view):
    from django.utils.decorators import method_decorator

    return method_decorator(cache_control(private=True, max_age=3600))(view)


@admin.register(TrainingExample)
class TrainingExampleAdmin(SoftDeleteAdmin):
    form = TrainingExampleForm
    list_display = (
        "thumbnail",
        "short_prompt",
        "status",
        "quality_score",
        "source_type",
        "data_category",
        "style_guide",
        "design_pattern",
        "import_batch",
        "created_at",
    )
    list_filter = ("status", "source_type", "data_category", "style_guide", "design_pattern")
    search_fields = ("prompt", "external_id", "content_hash", "data_category")
    autocomplete_fields = ("style_guide", "design_pattern", "import_batch")
    readonly_fields = ("preview", "content_hash", "reviewed_by", "reviewed_at", "source_line")
    date_hierarchy = "created_at"
    list_select_related = ("style_guide", "design_pattern", "import_batch")
    actions = ["approve", "reject", "back_to_draft", "snapshot", "restore_selected"]

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_example_list(include_deleted=True)

    def save_model(
        self, request: HttpRequest, obj: TrainingExample, form: TrainingExampleForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if getattr(form, "removals", None):
            self.message_user(request, "The sanitiser removed: " + "; ".join(form.removals), messages.WARNING)

    def get_urls(self):
        urls = [
            path(
                "<uuid:pk>/thumbnail.png",
                self.admin_site.admin_view(self.thumbnail_view),
                name="training_trainingexample_thumbnail",
            ),
        ]
        return urls + super().get_urls()

    @method_decorator_cache
    def thumbnail_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        example = get_object_or_404(selectors.training_example_list(include_deleted=True), pk=pk)
        if not self.has_view_permission(request, example):
            raise Http404
        size = 256 if request.GET.get("size") == "large" else 96
        return thumbnail_response(example.svg_content, size=size)

    @admin.display(description="")
    def thumbnail(self, obj: TrainingExample) -> str:
        # Rendered PNG in an <img>: the SVG's markup never reaches the admin page.
        url = reverse("admin:training_trainingexample_thumbnail", args=[obj.pk])
        return format_html(
            '<img src="{}" width="48" height="48" loading="lazy" alt="" style="background:#fff">', url
        )

    @admin.display(description="preview")
    def preview(self, obj: TrainingExample) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:training_trainingexample_thumbnail", args=[obj.pk]) + "?size=large"
        return format_html(
            '<img src="{}" width="256" height="256" alt="preview" style="background:#fff">', url
        )

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        changed = services.training_example_set_status(
            examples=queryset, status=status, reviewed_by=request.user
        )
        self.message_user(request, f"{changed} example(s) marked {status}.", messages.SUCCESS)

    @admin.action(description="Approve selected examples", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, TrainingExample.Status.APPROVED)

    @admin.action(description="Reject selected examples", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, TrainingExample.Status.REJECTED)

    @admin.action(description="Move selected back to draft", permissions=["change"])
    def back_to_draft(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, TrainingExample.Status.DRAFT)

    @admin.action(description="Freeze selected into a dataset snapshot")
    def snapshot(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not request.user.has_perm("training.add_dataset"):
            self.message_user(request, "You may not create dataset snapshots.", messages.ERROR)
            return None
        form = SnapshotForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            qs = queryset.filter(deleted_at__isnull=True)
            if form.cleaned_data["approved_only"]:
                qs = qs.filter(status=TrainingExample.Status.APPROVED)
            try:
                dataset = services.dataset_snapshot_create(
                    name=form.cleaned_data["name"],
                    examples=qs,
                    seed=form.cleaned_data["seed"],
                    ratios=form.ratios(),
                    description=form.cleaned_data["description"],
                    selection={
                        "admin_selection": qs.count(),
                        "approved_only": form.cleaned_data["approved_only"],
                    },
                    created_by=request.user,
                )
            except ValidationError as exc:
                for msg in exc.messages:
                    form.add_error(None, msg)
            else:
                self.message_user(
                    request,
                    f"Snapshot {dataset} frozen with {dataset.record_count} examples; export is being built.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:training_dataset_change", args=[dataset.pk]))
        return form_page(
            request,
            self,
            title="Freeze a dataset snapshot",
            form=form,
            action="snapshot",
            selected=request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            intro=f"{queryset.count()} example(s) selected. The snapshot copies them now; later edits do not change it.",
            hidden={"select_across": request.POST.get("select_across", "0")},
            submit_label="Freeze snapshot",
        )

    @admin.display(description="prompt", ordering="prompt")
    def short_prompt(self, obj: TrainingExample) -> str:
        return obj.prompt[:80]


@admin.register(ImportBatch)
class ImportBatchAdmin(BaseAdmin):
    change_list_template = "admin/training/importbatch/change_list.html"
    change_form_template = "admin/training/importbatch/change_form.html"

    list_display = (
        "source_name",
        "format",
        "mode",
        "dry_run",
        "status",
        "rows_read",
        "rows_valid",
        "rows_invalid",
        "rows_duplicate",
        "rows_created",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "format", "mode", "dry_run")
    search_fields = ("source_name",)
    fields = (
        "source_name",
        "format",
        "mode",
        "dry_run",
        "status",
        "progress_bar",
        "report_summary",
        "error_log",
        "style_guide",
        "default_status",
        "started_at",
        "finished_at",
        "created_by",
    )
    readonly_fields = fields
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.import_batch_list()

    def has_change_permission(self, request: HttpRequest, obj: ImportBatch | None = None) -> bool:
        return False  # an import's log is what happened; it is never edited

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return redirect(reverse("admin:training_importbatch_upload"))

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="training_importbatch_upload"),
            path(
                "<uuid:pk>/commit/",
                self.admin_site.admin_view(self.commit_view),
                name="training_importbatch_commit",
            ),
        ] + super().get_urls()

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDeniedAdmin
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            suffix = upload.name.lower().rsplit(".", 1)[-1]
            fmt = {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "zip": "zip"}[suffix]
            stored = services.import_upload_store(uploaded=upload, name=upload.name)
            batch = services.import_batch_create(
                source_name=upload.name,
                source_path=stored,
                format=fmt,
                mode=form.cleaned_data["mode"],
                dry_run=form.cleaned_data["dry_run"],
                default_status=form.cleaned_data["default_status"],
                style_guide=form.cleaned_data["style_guide"],
                created_by=request.user,
            )
            what = "Dry run" if batch.dry_run else "Import"
            self.message_user(
                request, f"{what} of {upload.name} queued; this page shows its report.", messages.SUCCESS
            )
            return redirect(reverse("admin:training_importbatch_change", args=[batch.pk]))
        return form_page(
            request, self, title="Import training data", form=form, submit_label="Upload and check"
        )

    def commit_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        dry = get_object_or_404(ImportBatch, pk=pk)
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDeniedAdmin
        if not (dry.dry_run and dry.status == "completed"):
            self.message_user(request, "Only a completed dry run can be committed.", messages.ERROR)
            return redirect(reverse("admin:training_importbatch_change", args=[dry.pk]))
        mode = request.POST.get("mode") if request.POST.get("mode") in ImportBatch.Mode.values else dry.mode
        batch = services.import_batch_create(
            source_name=dry.source_name,
            source_path=dry.source_path,
            format=dry.format,
            mode=mode,
            dry_run=False,
            default_status=dry.default_status,
            style_guide=dry.style_guide,
            created_by=request.user,
        )
        self.message_user(
            request, f"Import of {dry.source_name} queued ({batch.get_mode_display()}).", messages.SUCCESS
        )
        return redirect(reverse("admin:training_importbatch_change", args=[batch.pk]))

    @admin.display(description="progress")
    def progress_bar(self, obj: ImportBatch) -> str:
        return format_html(
            '<progress value="{}" max="1" style="width:20em"></progress> {}% ({} rows read)',
            obj.progress,
            round(obj.progress * 100),
            obj.rows_read,
        )

    @admin.display(description="report")
    def report_summary(self, obj: ImportBatch) -> str:
        r = obj.report or {}
        if not r:
            return "Not finished yet."
        c = r.get("counts", {})
        verb = "would create" if obj.dry_run else "created"
        head = format_html(
            "<p><b>{}</b> read, <b>{}</b> valid, <b>{}</b> invalid, <b>{}</b> duplicates, <b>{}</b> {}, <b>{}</b> updated.</p>",
            c.get("read"),
            c.get("valid"),
            c.get("invalid"),
            c.get("duplicates"),
            c.get("created"),
            verb,
            c.get("updated"),
        )
        rows = "".join(
            format_html("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", i["line"], i["source"], i["reason"])
            for i in r.get("invalid", [])[:200]
        )
        table = (
            format_html(
                "<table><tr><th>line</th><th>source</th><th>reason</th></tr>{}</table>", mark_safe_html(rows)
            )
            if rows
            else ""
        )
        removed = ", ".join(f"{k} ×{v}" for k, v in (r.get("sanitiser_removed") or {}).items())
        extra = format_html("<p>Sanitiser removed: {}</p>", removed) if removed else ""
        note = (
            format_html("<p><b>{}</b></p>", "All or nothing: invalid rows found, nothing was stored.")
            if r.get("rolled_back")
            else ""
        )
        # format_html keeps the parts safe; plain + with '' would turn them into escaped text.
        return format_html("{}{}{}{}", head, note, table, extra)


@admin.register(Dataset)
class DatasetAdmin(BaseAdmin):
    list_display = (
        "name",
        "version",
        "status",
        "record_count",
        "size_bytes",
        "short_hash",
        "export_link",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("name", "content_hash", "description")
    readonly_fields = (
        "name",
        "description",
        "version",
        "status",
        "record_count",
        "size_bytes",
        "content_hash",
        "export_link",
        "export_md5",
        "split",
        "selection",
        "error_message",
        "created_by",
    )
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.dataset_list()

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        self.message_user(
            request,
            "Select examples (filter, then 'select all'), then choose the action "
            "'Freeze selected into a dataset snapshot'.",
            messages.INFO,
        )
        return redirect(reverse("admin:training_trainingexample_changelist") + "?status__exact=approved")

    def has_change_permission(self, request: HttpRequest, obj: Dataset | None = None) -> bool:
        return False  # snapshots are immutable

    actions = ["train"]

    @admin.action(description="Train a model on this snapshot")
    def train(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not request.user.has_perm("training.add_trainingrun"):
            self.message_user(request, "Only ML staff may start training.", messages.ERROR)
            return None
        if queryset.count() != 1:
            self.message_user(request, "Choose one snapshot to train on.", messages.WARNING)
            return None
        dataset = queryset.get()
        form = TrainForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            try:
                run = services.training_run_create(
                    dataset=dataset,
                    params=form.params(),
                    base_model=form.cleaned_data["base_model"],
                    model_name=form.cleaned_data["model_name"],
                    promote_to=form.cleaned_data["promote_to"] or "",
                    requested_by=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                self.message_user(request, f"Training run {str(run.pk)[:8]} queued.", messages.SUCCESS)
                return redirect(reverse("admin:training_trainingrun_change", args=[run.pk]))
        return form_page(
            request,
            self,
            title=f"Train a model on {dataset}",
            form=form,
            action="train",
            selected=[str(dataset.pk)],
            submit_label="Start training",
            intro=f"{dataset.record_count} examples ({dataset.split.get('counts', {})}).",
        )

    def get_urls(self):
        return [
            path(
                "<uuid:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="training_dataset_download",
            ),
        ] + super().get_urls()

    def download_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        dataset = get_object_or_404(Dataset, pk=pk)
        if not self.has_view_permission(request, dataset) or dataset.status != Dataset.Status.READY:
            raise Http404("This snapshot has no export yet.")
        response = FileResponse(
            default_storage.open(dataset.storage_path, "rb"),
            as_attachment=True,
            filename=f"{dataset.name}-v{dataset.version}.jsonl",
            content_type="application/x-ndjson",
        )
        response["Content-MD5-Hex"] = dataset.export_md5
        return response

    @admin.display(description="export")
    def export_link(self, obj: Dataset) -> str:
        if obj.status != Dataset.Status.READY:
            return obj.get_status_display()
        url = reverse("admin:training_dataset_download", args=[obj.pk])
        return format_html('<a href="{}">JSONL</a> (md5 {})', url, obj.export_md5)

    @admin.display(description="content hash")
    def short_hash(self, obj: Dataset) -> str:
        return obj.content_hash[:12]


@admin.register(DatasetItem)
class DatasetItemAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "split", "short_prompt", "content_hash")
    list_filter = ("split",)
    search_fields = ("prompt", "content_hash", "dataset__name")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.dataset_item_list()

    @admin.display(description="prompt")
    def short_prompt(self, obj: DatasetItem) -> str:
        return obj.prompt[:80]


@admin.register(SLMModel)
class SLMModelAdmin(BaseAdmin):
    list_display = (
        "__str__",
        "architecture",
        "training_strategy",
        "alias_names",
        "parameter_count",
        "dataset",
        "base_model",
        "trained_at",
    )
    list_filter = ("architecture", "training_strategy", "model_name")
    search_fields = ("model_name", "notes")
    readonly_fields = (
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
    )
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_version_list()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from finished training runs

    actions = ["evaluate", "compare", "point_alias", "compare_designs"]

    @admin.action(description="Compare two versions' designs on a prompt set")
    def compare_designs(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        from feedback.services import model_comparison_create
        from training.forms import ComparisonForm

        models = list(queryset.order_by("model_name", "version"))
        if len(models) != 2:
            self.message_user(request, "Select exactly two model versions.", messages.WARNING)
            return None
        form = ComparisonForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            try:
                comparison = model_comparison_create(
                    model_a=models[0],
                    model_b=models[1],
                    prompts=form.prompt_list(),
                    dataset=form.cleaned_data["dataset"],
                    seed=form.cleaned_data["seed"],
                    requested_by=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect(reverse("admin:feedback_modelcomparison_change", args=[comparison.pk]))
        return form_page(
            request,
            self,
            title=f"Compare {models[0]} and {models[1]}",
            form=form,
            action="compare_designs",
            selected=[str(m.pk) for m in models],
            submit_label="Generate both",
        )

    @admin.display(description="lineage")
    def lineage(self, obj: SLMModel) -> str:
        from django.template.loader import render_to_string

        if not obj.pk:
            return "-"
        return mark_safe_html(
            render_to_string("admin/training/lineage.html", selectors.model_lineage(model=obj))
        )

    @admin.action(description="Evaluate on its snapshot's test split")
    def evaluate(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not request.user.has_perm("training.add_modelevaluation"):
            self.message_user(request, "Only ML staff may run evaluations.", messages.ERROR)
            return
        for model in queryset:
            try:
                services.model_evaluation_create(model_version=model, requested_by=request.user)
                self.message_user(request, f"Evaluation of {model} queued.", messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, f"{model}: {'; '.join(exc.messages)}", messages.ERROR)

    @admin.action(description="Compare metrics side by side")
    def compare(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        models = list(queryset.order_by("model_name", "version"))
        latest_eval = {}
        for ev in ModelEvaluation.objects.filter(model_version__in=models, status="completed").order_by(
            "created_at"
        ):
            latest_eval[ev.model_version_id] = ev.metrics
        merged = {
            m.pk: {**m.metrics, **{f"eval {k}": v for k, v in latest_eval.get(m.pk, {}).items()}}
            for m in models
        }
        names = sorted({k for d in merged.values() for k in d})

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

    @admin.action(description="Point an alias (staging, production, …) at this version")
    def point_alias(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose one version.", messages.WARNING)
            return None
        model = queryset.get()
        form = AliasForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            try:
                services.model_alias_move(
                    name=form.cleaned_data["alias"],
                    model_version=model,
                    moved_by=request.user,
                    note=form.cleaned_data["note"],
                )
            except PermissionDeniedAdmin as exc:
                form.add_error("alias", str(exc))
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                self.message_user(
                    request, f"{form.cleaned_data['alias']} now points at {model}.", messages.SUCCESS
                )
                return None
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


class ModelAliasEventInline(admin.TabularInline):
    model = ModelAliasEvent
    fk_name = "alias"
    extra = 0
    fields = ("created_at", "from_version", "to_version", "moved_by", "note")
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(ModelAlias)
class ModelAliasAdmin(BaseAdmin):
    list_display = ("name", "model_version", "updated_by", "updated_at")
    search_fields = ("name",)
    autocomplete_fields = ("model_version",)
    readonly_fields = ("name", "model_version", "updated_by")
    inlines = [ModelAliasEventInline]
    actions = ["rollback"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_alias_list()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # aliases move through the model versions' action, which keeps the history

    def has_change_permission(self, request: HttpRequest, obj: ModelAlias | None = None) -> bool:
        return False

    @admin.action(description="Roll back to the previous version", permissions=["view"])
    def rollback(self, request: HttpRequest, queryset: QuerySet) -> None:
        for alias in queryset:
            try:
                moved = services.model_alias_rollback(alias=alias, moved_by=request.user)
                self.message_user(
                    request, f"{moved.name} rolled back to {moved.model_version}.", messages.SUCCESS
                )
            except (ValidationError, PermissionDeniedAdmin) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{alias.name}: {text}", messages.ERROR)


@admin.register(ModelAliasEvent)
class ModelAliasEventAdmin(ReadOnlyAdmin):
    list_display = ("alias", "from_version", "to_version", "moved_by", "created_at", "note")
    list_filter = ("alias__name",)
    search_fields = ("alias__name", "note")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_alias_event_list()


@admin.register(TrainingRun)
class TrainingRunAdmin(BaseAdmin):
    change_form_template = "admin/training/trainingrun/change_form.html"

    list_display = (
        "__str__",
        "status",
        "progress_pct",
        "step",
        "loss",
        "training_type",
        "result_model",
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "training_type")
    search_fields = ("id", "dataset__name", "model_name", "error_message")
    autocomplete_fields = ("dataset", "base_model")
    readonly_fields = (
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start from a snapshot's "Train a model" action

    def get_readonly_fields(self, request: HttpRequest, obj: TrainingRun | None = None) -> tuple[str, ...]:
        return tuple(f.name for f in self.model._meta.fields)

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
        from django.http import JsonResponse

        run = get_object_or_404(TrainingRun, pk=pk)
        if not self.has_view_permission(request, run):
            raise PermissionDeniedAdmin
        return JsonResponse(selectors.training_run_progress(run=run))

    def cancel_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        run = get_object_or_404(TrainingRun, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, run):
            raise PermissionDeniedAdmin
        try:
            services.training_run_cancel(run=run, cancelled_by=request.user)
            self.message_user(
                request, "Cancel requested; the run stops after its current step.", messages.WARNING
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        return redirect(reverse("admin:training_trainingrun_change", args=[run.pk]))

    @admin.display(description="progress", ordering="progress")
    def progress_pct(self, obj: TrainingRun) -> str:
        return f"{obj.progress * 100:.0f}%"


@admin.register(TrainingRunEvent)
class TrainingRunEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "run", "level", "message")
    list_filter = ("level",)
    search_fields = ("message",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_run_event_list()


@admin.register(TrainingMetric)
class TrainingMetricAdmin(ReadOnlyAdmin):
    list_display = ("run", "name", "step", "value", "created_at")
    list_filter = ("name",)
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_metric_list()


@admin.register(ModelEvaluation)
class ModelEvaluationAdmin(BaseAdmin):
    list_display = ("model_version", "status", "dataset", "requested_by", "finished_at", "created_at")
    list_filter = ("status",)
    search_fields = ("model_version__model_name",)
    autocomplete_fields = ("model_version", "dataset")
    readonly_fields = (
        "status",
        "metrics",
        "gallery",
        "error_message",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "requested_by",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_evaluation_list()
