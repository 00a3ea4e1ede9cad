"""Reviews in the admin: the review queue (“Review next”, keyboard shortcuts, others' verdicts hidden until
you give yours), the queues (review policies), reviews as a list, and the agreement report."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_pages import report_page
from training import selectors_reviews
from training.agreement import cohen_pairs, krippendorff_alpha
from training.models import Review, ReviewPolicy, TrainingExample
from training.services.review_queue import review_next, review_release
from training.services.reviews import review_settle, review_submit
from training.similarity import neighbours_of_example, similar_panel_context

SIMILAR_SHOWN = 6  # examples already in the set that look most like the one under review


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=Review.Verdict.choices)
    score = forms.TypedChoiceField(
        choices=[("", "–")] + [(n, str(n)) for n in range(1, 6)], coerce=int, empty_value=None, required=False
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)
    settle = forms.BooleanField(required=False)


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "reviews_needed", "agreement", "min_accepts", "curator_may_settle", "queue_link")
    search_fields = ("name",)
    filter_horizontal = ("reviewers",)

    @admin.display(description="queue")
    def queue_link(self, obj: ReviewPolicy) -> str:
        url = reverse("admin:training_review_queue") + "?" + urlencode({"queue": obj.pk})
        return format_html('<a href="{}">Review next</a>', url)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("example_prompt", "reviewer", "verdict", "score", "settles", "created_at")
    list_filter = ("verdict", "settles", "example__review_policy")
    list_select_related = ("example", "reviewer")
    readonly_fields = ("example", "reviewer", "verdict", "score", "comment", "settles", "created_at")
    change_list_template = "admin/training/review/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Others' verdicts only on examples this user has reviewed (or with the permission to see all).
        return selectors_reviews.review_list(user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reviews are given in the queue, through training.services.reviews

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="example", ordering="example__prompt")
    def example_prompt(self, obj: Review) -> str:
        return obj.example.prompt[:80]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("queue/", view(self.next_view), name="training_review_queue"),
            path("queue/<uuid:pk>/", view(self.example_view), name="training_review_example"),
            path("agreement/", view(self.agreement_view), name="training_review_agreement"),
        ] + super().get_urls()

    def _require_reviewer(self, request: HttpRequest) -> None:
        if not request.user.has_perm("training.add_review"):
            raise PermissionDenied

    def next_view(self, request: HttpRequest) -> HttpResponse:
        """“Review next”: claim the next example and open it; “n” skips the one given in ?skip=."""
        self._require_reviewer(request)
        policy = None
        if request.GET.get("queue"):
            policy = get_object_or_404(
                selectors_reviews.review_queue_list(reviewer=request.user), pk=request.GET["queue"]
            )
        skipped = [s for s in request.session.get("review_skipped", []) if isinstance(s, str)]
        if request.GET.get("skip"):
            skip = get_object_or_404(TrainingExample, pk=request.GET["skip"])
            review_release(reviewer=request.user, example=skip)
            skipped = (skipped + [str(skip.pk)])[-200:]
            request.session["review_skipped"] = skipped
        example = review_next(reviewer=request.user, policy=policy, skip=skipped)
        if example is None:
            request.session["review_skipped"] = []
        # Rendered here, not redirected: the form posts to the example's own page.
        return self._render(request, example, policy)

    def example_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        self._require_reviewer(request)
        example = get_object_or_404(TrainingExample.objects.select_related("review_policy"), pk=pk)
        policy = example.review_policy if request.GET.get("queue") else None
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["settle"]:
                    review_settle(
                        example=example,
                        curator=request.user,
                        verdict=data["verdict"],
                        comment=data["comment"],
                    )
                else:
                    review_submit(
                        example=example,
                        reviewer=request.user,
                        verdict=data["verdict"],
                        score=data["score"],
                        comment=data["comment"],
                    )
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                messages.success(
                    request,
                    format_html(
                        'Saved. <a href="{}">See every verdict on it</a>.', self._example_url(example)
                    ),
                )
                return redirect(reverse("admin:training_review_queue") + _query(policy))
        return self._render(request, example, policy, form)

    def _render(
        self, request: HttpRequest, example: TrainingExample | None, policy: Any, form: Any = None
    ) -> TemplateResponse:
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Review queue: {policy}" if policy else "Review queue",
            "example": example,
            "policy": policy,
            "form": form or ReviewForm(),
            "next_url": reverse("admin:training_review_queue") + _query(policy),
        }
        if example is not None:
            reviews, hidden = selectors_reviews.example_reviews_visible(example=example, user=request.user)
            mine = next((r for r in reviews if r.reviewer_id == request.user.pk), None)
            context.update(
                reviews=reviews,
                hidden=hidden,
                mine=mine,
                can_settle=request.user.has_perm("training.settle_review"),
                image_url=reverse("admin:training_trainingexample_thumbnail", args=[example.pk]) + "?size=xl",
                skip_url=reverse("admin:training_review_queue") + _query(policy, skip=example.pk),
                action_url=self._example_url(example, policy),
                **similar_panel_context(lambda: neighbours_of_example(example, k=SIMILAR_SHOWN)),
            )
        return TemplateResponse(request, "admin/training/review/queue.html", context)

    def _example_url(self, example: TrainingExample, policy: Any = None) -> str:
        return reverse("admin:training_review_example", args=[example.pk]) + _query(policy)

    def agreement_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        sections = []
        names = {u.pk: str(u) for u in _reviewers()}
        for policy in [None, *ReviewPolicy.objects.all()]:
            votes = selectors_reviews.agreement_table(policy=policy)
            alpha = krippendorff_alpha(votes)
            pairs = cohen_pairs(votes)
            sections.append(
                {
                    "title": str(policy or "Default (one review decides)"),
                    "summary": f"{len(votes)} votes. Krippendorff's alpha (nominal): {_fmt(alpha)}.",
                    "headers": ["reviewer", "reviewer", "examples both reviewed", "Cohen's kappa"],
                    "rows": [
                        [names.get(p.a, p.a), names.get(p.b, p.b), p.shared, _fmt(p.kappa)] for p in pairs
                    ],
                }
            )
        return report_page(request, self, title="Reviewer agreement", sections=sections)


def _reviewers() -> QuerySet:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(reviews__isnull=False).distinct().only("pk", "username")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _query(policy: Any, **extra: Any) -> str:
    params = {"queue": policy.pk} if policy is not None else {}
    params.update(extra)
    return "?" + urlencode(params) if params else ""
