"""Reviews: a reviewer's verdict (one per reviewer per example, changeable), a curator's settlement of a
disagreement, and the example's status and quality recomputed from them under its queue's policy."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core import events
from training.models import Review, ReviewClaim, ReviewPolicy, TrainingExample
from training.reviews_rules import DEFAULT_RULE, Outcome, PolicyRule, decide, quality_from_scores


def policy_rule(policy: ReviewPolicy | None) -> PolicyRule:
    if policy is None:
        return DEFAULT_RULE
    return PolicyRule(policy.reviews_needed, policy.agreement, policy.min_accepts)


@transaction.atomic
def review_submit(
    *, example: TrainingExample, reviewer: Any, verdict: str, score: int | None = None, comment: str = ""
) -> Review:
    """Give (or change) this reviewer's verdict; the example's status follows under its policy."""
    locked = _lock(example)
    review = Review.objects.filter(example=locked, reviewer=reviewer).first() or Review(
        example=locked, reviewer=reviewer
    )
    if review.settles:
        raise ValidationError(
            {"verdict": "You settled this example; settle it again to change the decision."}
        )
    review.verdict, review.score, review.comment = verdict, score, comment or ""
    review.full_clean(exclude=["example", "reviewer"])
    review.save()
    ReviewClaim.objects.filter(example=locked).delete()
    example_recompute(example=locked, reviewer=reviewer)
    return review


@transaction.atomic
def review_settle(*, example: TrainingExample, curator: Any, verdict: str, comment: str = "") -> Review:
    """A curator with the permission decides a disputed example; recorded as a settlement, not a vote."""
    if not curator.has_perm("training.settle_review"):
        raise PermissionDenied("Settling a disagreement needs the “settle review disagreements” permission.")
    locked = _lock(example)
    if locked.review_policy is not None and not locked.review_policy.curator_may_settle:
        raise ValidationError({"verdict": f"The queue {locked.review_policy} lets no curator settle."})
    review, _ = Review.objects.get_or_create(
        example=locked, reviewer=curator, defaults={"verdict": verdict, "settles": True}
    )
    review.verdict, review.comment, review.settles = verdict, comment or "", True
    review.full_clean(exclude=["example", "reviewer"])
    review.save()
    example_recompute(example=locked, reviewer=curator, settling=True)
    return review


def example_recompute(*, example: TrainingExample, reviewer: Any = None, settling: bool = False) -> Outcome:
    """Status and quality from the reviews; saved row by row so the audit trail keeps the change.
    A status the reviews decide (approved or rejected), or a settlement, is announced (review.settled)."""
    reviews = list(example.reviews.order_by("created_at"))
    settlement = next((r.verdict for r in reviews if r.settles), None)
    outcome = decide(
        policy_rule(example.review_policy), [r.verdict for r in reviews if not r.settles], settlement
    )
    quality = quality_from_scores([r.score for r in reviews])
    fields = []
    if example.status != outcome.status:
        example.status = outcome.status
        fields.append("status")
    if example.quality_score != quality:
        example.quality_score = quality
        fields.append("quality_score")
    if reviewer is not None and getattr(reviewer, "pk", None):
        example.reviewed_by, example.reviewed_at = reviewer, timezone.now()
        fields += ["reviewed_by", "reviewed_at"]
    if fields:
        example.save(update_fields=[*fields, "updated_at"])
    if settling or ("status" in fields and outcome.status != "draft"):
        _announce(example, outcome, reviewer, len(reviews))
    return outcome


def _announce(example: TrainingExample, outcome: Outcome, reviewer: Any, reviews: int) -> None:
    summary = {
        "status": outcome.status,
        "state": outcome.state,
        "reviews": reviews,
        "by": getattr(reviewer, "username", "") or "system",
        "quality_score": example.quality_score,
    }
    url = events.api_url("example-reviews", pk=example.pk)
    events.event_emit(type=events.REVIEW_SETTLED, obj_id=example.pk, url=url, summary=summary)


@transaction.atomic
def review_submit_many(*, examples: QuerySet[TrainingExample], reviewer: Any, verdict: str) -> int:
    """The admin's bulk approve / reject: one review per selected example, by this reviewer."""
    count = 0
    for example in TrainingExample.objects.filter(pk__in=examples.values("pk")).order_by("pk"):
        review_submit(example=example, reviewer=reviewer, verdict=verdict)
        count += 1
    return count


@transaction.atomic
def training_example_set_review_policy(
    *, examples: QuerySet[TrainingExample], policy: ReviewPolicy | None
) -> int:
    """Put a selection into a queue (None: back to “one review decides”); statuses follow the new policy."""
    changed = 0
    for example in TrainingExample.objects.filter(pk__in=examples.values("pk")).select_for_update():
        if example.review_policy_id == getattr(policy, "pk", None):
            continue
        example.review_policy = policy
        example.save(update_fields=["review_policy", "updated_at"])
        if example.reviews.exists():
            example_recompute(example=example)
        changed += 1
    return changed


@transaction.atomic
def review_policy_create(*, name: str, reviewers: list[Any] | None = None, **fields: Any) -> ReviewPolicy:
    policy = ReviewPolicy(name=name, **fields)
    policy.full_clean()
    policy.save()
    if reviewers:
        policy.reviewers.set(reviewers)
    return policy


def _lock(example: TrainingExample) -> TrainingExample:
    return (
        TrainingExample.objects.select_for_update(of=("self",))
        .select_related("review_policy")
        .get(pk=example.pk)
    )
