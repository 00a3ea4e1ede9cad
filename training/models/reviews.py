"""Reviews as rows: several reviewers per example, a policy that turns their verdicts into a status, and a
short claim so the review queue never serves one example to two reviewers at once."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.models import BaseModel

USER = settings.AUTH_USER_MODEL


class ReviewPolicy(BaseModel):
    """A review queue: how many reviews an example needs and which agreement accepts it."""

    class Agreement(models.TextChoices):
        UNANIMOUS = "unanimous", "Unanimous"
        MAJORITY = "majority", "Majority"
        AT_LEAST_K = "at_least_k", "At least k accepts"

    name = models.CharField(max_length=120, unique=True)
    reviews_needed = models.PositiveSmallIntegerField(default=1)
    agreement = models.CharField(max_length=20, choices=Agreement.choices, default=Agreement.MAJORITY)
    min_accepts = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="k, for “at least k accepts”."
    )
    curator_may_settle = models.BooleanField(
        default=True,
        help_text="A curator with the “settle review disagreements” permission may decide a disputed example.",
    )
    reviewers = models.ManyToManyField(
        USER, blank=True, related_name="review_queues", help_text="Who may work on this queue; empty: anyone."
    )

    class Meta(BaseModel.Meta):
        verbose_name_plural = "review policies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(reviews_needed__gte=1), name="policy_reviews_needed_positive"),
            models.CheckConstraint(
                condition=~Q(agreement="at_least_k") | Q(min_accepts__gte=1), name="policy_k_given"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.agreement == self.Agreement.AT_LEAST_K:
            if not self.min_accepts:
                raise ValidationError({"min_accepts": "Give k for “at least k accepts”."})
            if self.min_accepts > self.reviews_needed:
                raise ValidationError({"min_accepts": "k cannot exceed the number of reviews needed."})


class Review(BaseModel):
    """One reviewer's verdict on one example; the reviewer may change it (the audit trail keeps each)."""

    class Verdict(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        NEEDS_CHANGES = "needs_changes", "Needs changes"

    example = models.ForeignKey("training.TrainingExample", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="reviews")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Quality, 1 to 5.")
    comment = models.TextField(blank=True, max_length=4000)
    settles = models.BooleanField(
        default=False, editable=False, help_text="A curator's decision on a disagreement, not a vote."
    )

    class Meta(BaseModel.Meta):
        permissions = [
            ("view_all_reviews", "Can see other reviewers' verdicts before giving one"),
            ("settle_review", "Can settle review disagreements"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["example", "reviewer"], name="review_one_per_reviewer"),
            models.CheckConstraint(
                condition=Q(verdict__in=["accept", "reject", "needs_changes"]), name="review_verdict_valid"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=1) & Q(score__lte=5)),
                name="review_score_range",
            ),
        ]
        indexes = [models.Index(fields=["reviewer", "example"])]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.reviewer}"


class ReviewClaim(models.Model):
    """A short lease: the example a reviewer was just served, kept from other reviewers until it expires."""

    example = models.OneToOneField(
        "training.TrainingExample", on_delete=models.CASCADE, related_name="review_claim"
    )
    reviewer = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.example_id} by {self.reviewer_id} until {self.expires_at:%H:%M:%S}"
