from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin import ReadOnlyAdmin, SoftDeleteAdmin
from core.admin_pages import form_page, report_page
from feedback import selectors, services
from feedback.forms import ComparisonForm
from feedback.models import Feedback, ModelComparison, Promotion, PromotionCandidate
from feedback.services import model_comparison_create
from generation.models import DesignOutput
from training.admin.registry import SLMModelAdmin
from training.models import SLMModel


def _promote(model_admin: admin.ModelAdmin, request: HttpRequest, outputs: list, status: str) -> None:
    if not request.user.has_perm("feedback.add_promotion"):
        model_admin.message_user(request, "You may not add designs to the training data.", messages.ERROR)
        return
    done = 0
    for output, feedback in outputs:
        try:
            done += len(
                services.output_promote(
                    output=output, promoted_by=request.user, status=status, feedback=feedback
                )
            )
        except (ValidationError, PermissionDenied) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            model_admin.message_user(request, f"{output}: {text}", messages.ERROR)
    if done:
        model_admin.message_user(
            request, f"{done} design(s) added to the training data as {status}.", messages.SUCCESS
        )


@admin.register(Feedback)
class FeedbackAdmin(SoftDeleteAdmin):
    list_display = ("output", "user", "rating", "short_comment", "created_at")
    list_filter = ("rating", "output__model_version")  # the dashboard links ratings per model version here
    search_fields = ("comments", "user__username")
    autocomplete_fields = ("output", "user")
    date_hierarchy = "created_at"
    list_select_related = ("output", "user")
    actions = [
        "promote_draft",
        "promote_approved",
        "export_preference_pairs",
        "aggregates",
        "restore_selected",
    ]

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.feedback_list(include_deleted=True)

    @admin.display(description="comment")
    def short_comment(self, obj: Feedback) -> str:
        return obj.comments[:60]

    @admin.action(description="Add the rated designs to training data (draft)")
    def promote_draft(self, request: HttpRequest, queryset: QuerySet) -> None:
        _promote(self, request, [(f.output, f) for f in queryset.select_related("output__prompt")], "draft")

    @admin.action(description="Add the rated designs to training data (approved)")
    def promote_approved(self, request: HttpRequest, queryset: QuerySet) -> None:
        _promote(
            self, request, [(f.output, f) for f in queryset.select_related("output__prompt")], "approved"
        )

    @admin.action(description="Export preference pairs (JSONL)")
    def export_preference_pairs(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        response = StreamingHttpResponse(
            services.preference_pairs_jsonl(), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="preference-pairs.jsonl"'
        return response

    @admin.action(description="Rating summary by model, template and style guide")
    def aggregates(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        sections = []
        for by, title in (
            ("model_version", "Per model version"),
            ("template_version", "Per template version"),
            ("style_guide", "Per style guide"),
        ):
            rows = [
                [r["label"], r["count"], r["mean"], *r["distribution"].values()]
                for r in selectors.feedback_aggregates(by=by)
            ]
            sections.append(
                {
                    "title": title,
                    "headers": ["", "ratings", "mean", "1★", "2★", "3★", "4★", "5★"],
                    "rows": rows,
                    "summary": "" if rows else "No ratings yet.",
                }
            )
        return report_page(request, self, title="Ratings", sections=sections)


@admin.register(Promotion)
class PromotionAdmin(ReadOnlyAdmin):
    list_display = ("example", "output", "feedback", "model_version", "promoted_by", "created_at")
    search_fields = ("example__prompt",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.promotion_list()


@admin.register(PromotionCandidate)
class PromotionCandidateAdmin(ReadOnlyAdmin):
    """The curation rule's proposals: mean rating ≥ 4 from ≥ 2 raters, not yet promoted."""

    list_display = ("__str__", "prompt", "model_version", "mean_rating", "raters", "generated_at")
    search_fields = ("prompt__text_content",)
    actions = ["promote_draft", "promote_approved"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        rule = services.CurationRule()
        return selectors.promotion_candidate_list(
            min_mean_rating=rule.min_mean_rating, min_raters=rule.min_raters
        )

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="mean rating", ordering="mean")
    def mean_rating(self, obj: PromotionCandidate) -> str:
        return f"{obj.mean:.2f}"

    @admin.display(description="raters", ordering="raters")
    def raters(self, obj: PromotionCandidate) -> int:
        return obj.raters

    def get_actions(self, request: HttpRequest) -> dict:
        # ReadOnlyAdmin hides delete; promotion actions need only the add_promotion permission.
        return {
            name: (func, name, desc)
            for name, (func, _n, desc) in super().get_actions(request).items()
            if name in ("promote_draft", "promote_approved")
        }

    @admin.action(description="Add to training data (draft)")
    def promote_draft(self, request: HttpRequest, queryset: QuerySet) -> None:
        _promote(self, request, [(o, None) for o in queryset], "draft")

    @admin.action(description="Add to training data (approved)")
    def promote_approved(self, request: HttpRequest, queryset: QuerySet) -> None:
        _promote(self, request, [(o, None) for o in queryset], "approved")


@admin.register(ModelComparison)
class ModelComparisonAdmin(ReadOnlyAdmin):
    """Two versions side by side on one prompt set; curators rate in place (ratings are ordinary feedback)."""

    list_display = ("__str__", "model_a", "model_b", "dataset", "requested_by", "created_at")
    search_fields = ("title",)
    list_select_related = ("model_a", "model_b", "dataset", "requested_by")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<uuid:pk>/image/<uuid:output_id>.png",
                wrap(self.image_view),
                name="feedback_modelcomparison_image",
            ),
            path(
                "<uuid:pk>/rate/<uuid:output_id>/", wrap(self.rate_view), name="feedback_modelcomparison_rate"
            ),
        ] + super().get_urls()

    def _comparison(self, request: HttpRequest, pk: str) -> ModelComparison:
        comparison = get_object_or_404(ModelComparison.objects.select_related("model_a", "model_b"), pk=pk)
        if not self.has_view_permission(request, comparison):
            raise PermissionDenied
        return comparison

    def _output(self, comparison: ModelComparison, output_id: str) -> DesignOutput:
        item = comparison.items.filter(Q(output_a_id=output_id) | Q(output_b_id=output_id)).first()
        if item is None:
            raise Http404
        return item.output_a if str(item.output_a_id) == str(output_id) else item.output_b

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        comparison = self._comparison(request, object_id)
        view = selectors.model_comparison_view(comparison=comparison, user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(comparison),
            "comparison": comparison,
            "view": view,
        }
        return TemplateResponse(request, "admin/feedback/comparison.html", context)

    def image_view(self, request: HttpRequest, pk: str, output_id: str) -> HttpResponse:
        output = self._output(self._comparison(request, pk), output_id)
        png = output.images.filter(file_type="png").order_by("sequence_order").first()
        if png is None:
            raise Http404
        with png.file.open("rb") as fh:
            body = fh.read()
        if not body.startswith(b"\x89PNG"):
            raise Http404
        response = HttpResponse(body, content_type="image/png")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def rate_view(self, request: HttpRequest, pk: str, output_id: str) -> HttpResponse:
        comparison = self._comparison(request, pk)
        if request.method != "POST":
            raise PermissionDenied
        output = self._output(comparison, output_id)
        try:
            services.feedback_upsert(
                output=output, user=request.user, rating=int(request.POST.get("rating", "0"))
            )
            self.message_user(request, "Rating saved.", messages.SUCCESS)
        except (ValueError, ValidationError, PermissionDenied) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else "Rating must be 1 to 5."
            self.message_user(request, text, messages.ERROR)
        return redirect(reverse("admin:feedback_modelcomparison_change", args=[comparison.pk]))


# Comparing two versions' designs is feedback's (a comparison is rated in place): feedback adds the action
# to the model versions' admin, which never imports feedback.
admin.site.unregister(SLMModel)


@admin.register(SLMModel)
class ComparableSLMModelAdmin(SLMModelAdmin):
    actions = [*SLMModelAdmin.actions, "compare_designs"]

    @admin.action(description="Compare two versions' designs on a prompt set")
    def compare_designs(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
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
