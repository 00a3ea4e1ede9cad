"""Imports in the admin: upload and check (a dry run), read the report, commit it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.admin import BaseAdmin
from core.admin_pages import form_page
from core.jobs.models import JobStatus
from training import selectors
from training.forms import ImportUploadForm
from training.models import ImportBatch
from training.services.imports import import_batch_create, import_upload_create


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
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            batch = import_upload_create(
                uploaded=upload,
                mode=form.cleaned_data["mode"],
                near_duplicates=form.cleaned_data["near_duplicates"],
                dry_run=form.cleaned_data["dry_run"],
                default_status=form.cleaned_data["default_status"],
                style_guide=form.cleaned_data["style_guide"],
                review_policy=form.cleaned_data["review_policy"],
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
            raise PermissionDenied
        if not (dry.dry_run and dry.status == JobStatus.COMPLETED):
            self.message_user(request, "Only a completed dry run can be committed.", messages.ERROR)
            return redirect(reverse("admin:training_importbatch_change", args=[dry.pk]))
        mode = request.POST.get("mode") if request.POST.get("mode") in ImportBatch.Mode.values else dry.mode
        batch = import_batch_create(
            source_name=dry.source_name,
            source_path=dry.source_path,
            format=dry.format,
            mode=mode,
            near_duplicates=(
                request.POST["near_duplicates"]
                if request.POST.get("near_duplicates") in ImportBatch.NearDuplicates.values
                else dry.near_duplicates
            ),
            dry_run=False,
            default_status=dry.default_status,
            style_guide=dry.style_guide,
            review_policy=dry.review_policy,
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
                "<table><tr><th>line</th><th>source</th><th>reason</th></tr>{}</table>", mark_safe(rows)
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
