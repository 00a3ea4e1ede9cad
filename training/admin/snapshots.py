"""Dataset snapshots in the admin: immutable, downloadable as JSONL, and what a model is trained on."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import BaseAdmin, ReadOnlyAdmin
from core.admin_pages import form_page
from training import selectors
from training.forms import TrainForm
from training.models import Dataset, DatasetItem
from training.services.profiles import dataset_budget_estimate, dataset_recipe
from training.services.runs import training_run_create


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
        recipe = dataset_recipe(dataset=dataset)  # the defaults derived from this snapshot, and why
        form = TrainForm(request.POST if request.POST.get("confirm") else None, recipe=recipe.values)
        short = form.is_bound and form.is_valid() and _budget_too_short(form, dataset)
        if form.is_bound and form.is_valid() and not short:
            try:
                run = training_run_create(
                    dataset=dataset,
                    params=form.params(),
                    base_model=form.cleaned_data["base_model"],
                    model_name=form.cleaned_data["model_name"],
                    promote_to=form.cleaned_data["promote_to"] or "",
                    promote_override_reason=form.cleaned_data["promote_override_reason"],
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
            intro=f"{dataset.record_count} examples ({dataset.split.get('counts', {})}). "
            "The defaults below are derived from this snapshot:",
            items=recipe.reasons
            + [
                dataset_budget_estimate(
                    dataset=dataset, budget_seconds=recipe.values["budget_seconds"]
                ).message()
            ]
            + _profile_notes(dataset.profile),
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


def _budget_too_short(form: TrainForm, dataset: Dataset) -> bool:
    """Before training: a budget the snapshot cannot be learned in is a field error (with the budget it
    would need) unless "train anyway" is ticked. A budget of 0 (steps only) is not judged."""
    budget = form.cleaned_data.get("budget_seconds") or 0
    if not budget or form.cleaned_data.get("train_anyway"):
        return False
    estimate = dataset_budget_estimate(dataset=dataset, budget_seconds=budget)
    if estimate.learnable:
        return False
    form.add_error("budget_seconds", estimate.message())
    return True


def _profile_notes(profile: dict) -> list[str]:
    """What the snapshot's profile says of its designs, for the train form."""
    notes = []
    form = profile.get("form")
    if form:
        tried = ", ".join(f"{g}: {float(l2):.4f}" for g, l2 in profile.get("grids_tried", {}).items())
        notes.append(
            f"Designs are written in the model form on a {form['grid']}-unit grid (round-trip pixel L2 at 64 px "
            f"{float(profile.get('round_trip_l2', 0)):.4f}; grids tried {tried}); decoded designs get a "
            f"{form['view']:g}-unit viewBox."
        )
    if profile.get("unconvertible"):
        first = profile.get("unconvertible_examples", [])[:3]
        notes.append(
            f"{profile['unconvertible']} of the {profile.get('sampled', 0)} designs read cannot be written in the "
            "model form and will be left out ("
            + "; ".join(f"“{x['prompt'][:40]}”: {x['reason']}" for x in first)
            + ")."
        )
    return notes
