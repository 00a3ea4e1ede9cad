"""The review queue's “Review next”: the next example this reviewer has not reviewed, from the queues they
may work on, never served to two reviewers at once.

Two guards: on PostgreSQL the candidate row is taken with SELECT … FOR UPDATE SKIP LOCKED, so a reviewer
asking at the same moment skips it; and a short claim (ReviewClaim, REVIEW_CLAIM_SECONDS) keeps it from
the others after the transaction ends, until the reviewer answers or the claim expires."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from training.models import ReviewClaim, ReviewPolicy, TrainingExample
from training.selectors_reviews import review_candidates

TRIES = 5


@transaction.atomic
def review_next(
    *, reviewer: Any, policy: ReviewPolicy | None = None, skip: Iterable[Any] = ()
) -> TrainingExample | None:
    now = timezone_now()
    features = connection.features
    qs = review_candidates(reviewer=reviewer, policy=policy, now=now).exclude(pk__in=list(skip))
    if features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    tried: list[Any] = []
    for _ in range(TRIES):
        # One row per statement: FOR UPDATE locks every row a statement returns.
        example = qs.exclude(pk__in=tried).first()
        if example is None:
            return None
        tried.append(example.pk)
        # A fresh statement: a claim committed after the candidate was read is seen here.
        if (
            ReviewClaim.objects.filter(example=example, expires_at__gt=now)
            .exclude(reviewer=reviewer)
            .exists()
        ):
            continue
        ReviewClaim.objects.filter(reviewer=reviewer).exclude(example=example).delete()
        ReviewClaim.objects.update_or_create(
            example=example,
            defaults={
                "reviewer": reviewer,
                "expires_at": now + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS),
            },
        )
        return TrainingExample.objects.select_related("review_policy").get(pk=example.pk)
    return None


def review_release(*, reviewer: Any, example: TrainingExample | None = None) -> int:
    """Give back this reviewer's claim (all of them, or the one on `example`): “n” skips an example."""
    qs = ReviewClaim.objects.filter(reviewer=reviewer)
    if example is not None:
        qs = qs.filter(example=example)
    return qs.delete()[0]


def timezone_now() -> Any:
    from django.utils import timezone

    return timezone.now()
