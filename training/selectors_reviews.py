"""Reads of reviews: the queue's candidates, what a reviewer may see, progress per queue, agreement data."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Least

from training.models import Review, ReviewClaim, ReviewPolicy, TrainingExample


def review_queue_list(*, reviewer: Any) -> QuerySet[ReviewPolicy]:
    """The queues this reviewer may work on: those naming them, and those naming nobody."""
    return ReviewPolicy.objects.filter(Q(reviewers=None) | Q(reviewers=reviewer)).distinct()


def _vote_count() -> Any:
    votes = (
        Review.objects.filter(example=OuterRef("pk"), settles=False)
        .order_by()
        .values("example")
        .annotate(c=Count("*"))
        .values("c")
    )
    return Coalesce(Subquery(votes, output_field=IntegerField()), Value(0))


def review_candidates(*, reviewer: Any, policy: ReviewPolicy | None, now: Any) -> QuerySet[TrainingExample]:
    """Drafts still short of reviews, not reviewed by this reviewer, not claimed by another, oldest first."""
    qs = TrainingExample.objects.filter(status=TrainingExample.Status.DRAFT)
    if policy is not None:
        qs = qs.filter(review_policy=policy)
    else:
        queues = review_queue_list(reviewer=reviewer).values("pk")
        qs = qs.filter(Q(review_policy__isnull=True) | Q(review_policy__in=queues))
    mine = Review.objects.filter(example=OuterRef("pk"), reviewer=reviewer)
    taken = ReviewClaim.objects.filter(example=OuterRef("pk"), expires_at__gt=now).exclude(reviewer=reviewer)
    settled = Review.objects.filter(example=OuterRef("pk"), settles=True)
    return (
        qs.annotate(votes=_vote_count(), needed=_needed())
        .filter(votes__lt=F("needed"))
        .exclude(Exists(mine))
        .exclude(Exists(taken))
        .exclude(Exists(settled))
        .order_by("created_at", "pk")
    )


def can_see_all_reviews(user: Any) -> bool:
    return bool(user.has_perm("training.view_all_reviews"))


def example_reviews_visible(*, example: TrainingExample, user: Any) -> tuple[list[Review], int]:
    """(the reviews this user may read, how many are hidden): others' only once they gave their own."""
    reviews = list(example.reviews.select_related("reviewer").order_by("created_at"))
    if can_see_all_reviews(user) or any(r.reviewer_id == user.pk for r in reviews):
        return reviews, 0
    return [], len(reviews)


def review_list(*, user: Any) -> QuerySet[Review]:
    """Reviews for lists: all for those with the permission, else only on examples this user reviewed."""
    qs = Review.objects.select_related("example", "reviewer", "example__review_policy")
    if can_see_all_reviews(user):
        return qs
    return qs.filter(example__in=Review.objects.filter(reviewer=user).values("example"))


def _needed() -> Any:
    return Coalesce(F("review_policy__reviews_needed"), Value(1), output_field=IntegerField())


def review_queue_progress() -> list[dict[str, Any]]:
    """Per queue (and the default “one review decides” queue): reviews given / reviews needed. One query."""
    rows = (
        TrainingExample.objects.values("review_policy", "review_policy__name")
        .annotate(
            examples=Count("pk"),
            needed=Sum(_needed()),
            given=Sum(Least(_vote_count(), _needed(), output_field=IntegerField())),
        )
        .order_by("review_policy__name")
    )
    return [
        {
            "policy_id": r["review_policy"],
            "name": r["review_policy__name"] or "Default (one review decides)",
            "examples": r["examples"],
            "given": r["given"] or 0,
            "needed": r["needed"] or 0,
        }
        for r in rows
    ]


def agreement_table(*, policy: ReviewPolicy | None) -> list[tuple[Any, Any, str]]:
    """(example id, reviewer id, verdict) of the votes in a queue, for the agreement report."""
    qs = Review.objects.filter(settles=False, example__deleted_at__isnull=True)
    qs = (
        qs.filter(example__review_policy=policy) if policy else qs.filter(example__review_policy__isnull=True)
    )
    return list(qs.values_list("example_id", "reviewer_id", "verdict"))
