"""Training examples in the admin: curation (approve, reject, draft), rendered previews, snapshots."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.cache import cache_control

from core.admin import SoftDeleteAdmin
from core.admin_pages import form_page, thumbnail_response
from training import selectors
from training.admin.example_search import ExampleSearchAdminMixin
from training.forms import ReviewQueueForm, SnapshotForm, TrainingExampleForm
from training.models import TrainingExample
from training.services.curation import training_example_set_status
from training.services.reviews import review_submit_many, training_example_set_review_policy
from training.services.snapshots import dataset_snapshot_create


@admin.register(TrainingExample)
class TrainingExampleAdmin(ExampleSearchAdminMixin, SoftDeleteAdmin):
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
    list_filter = ("status", "review_policy", "source_type", "data_category", "style_guide", "design_pattern")
    search_fields = ("prompt", "external_id", "content_hash", "data_category")
    autocomplete_fields = ("style_guide", "design_pattern", "import_batch")
    readonly_fields = ("preview", "content_hash", "reviewed_by", "reviewed_at", "source_line")
    date_hierarchy = "created_at"
    list_select_related = ("style_guide", "design_pattern", "import_batch", "review_policy")
    actions = ["approve", "reject", "back_to_draft", "set_review_queue", "snapshot", "restore_selected"]

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
        return urls + self.search_urls() + super().get_urls()

    @method_decorator(cache_control(private=True, max_age=3600))
    def thumbnail_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        example = get_object_or_404(selectors.training_example_list(include_deleted=True), pk=pk)
        if not self.has_view_permission(request, example):
            raise Http404
        size = {"large": 256, "xl": 512}.get(request.GET.get("size", ""), 96)
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
        changed = training_example_set_status(examples=queryset, status=status, reviewed_by=request.user)
        self.message_user(request, f"{changed} example(s) marked {status}.", messages.SUCCESS)

    def _review(self, request: HttpRequest, queryset: QuerySet, verdict: str) -> None:
        # A review by this curator on each example; the status follows under each example's policy.
        pks = list(queryset.values_list("pk", flat=True))
        count = review_submit_many(examples=queryset, reviewer=request.user, verdict=verdict)
        statuses = selectors.example_status_counts(pks=pks)
        decided = ", ".join(f"{n} now {status}" for status, n in sorted(statuses.items()))
        self.message_user(request, f"{count} example(s) reviewed: {verdict} ({decided}).", messages.SUCCESS)

    @admin.action(description="Approve selected examples (your review)", permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, "accept")

    @admin.action(description="Reject selected examples (your review)", permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, "reject")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("training.add_review")

    @admin.action(description="Move selected back to draft", permissions=["change"])
    def back_to_draft(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, TrainingExample.Status.DRAFT)

    @admin.action(description="Put selected into a review queue", permissions=["change"])
    def set_review_queue(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = ReviewQueueForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            policy = form.cleaned_data["review_policy"]
            changed = training_example_set_review_policy(examples=queryset, policy=policy)
            self.message_user(
                request, f"{changed} example(s) moved to {policy or 'no queue'}.", messages.SUCCESS
            )
            return None
        return form_page(
            request,
            self,
            title="Put examples into a review queue",
            form=form,
            action="set_review_queue",
            selected=request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            intro=f"{queryset.count()} example(s) selected.",
            hidden={"select_across": request.POST.get("select_across", "0")},
            submit_label="Move",
        )

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
                dataset = dataset_snapshot_create(
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
