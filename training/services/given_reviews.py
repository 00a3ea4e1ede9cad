"""A status given outside the review queue (an import's default status, a promotion from feedback) is
recorded as the acting user's review, so an example's status always follows from its reviews: the new
example gets the status that one review gives under its policy (an import into a queue needing two reviews
stays draft until a second reviewer accepts too). Without an acting user (the command line without
--user) there is nobody to record: the status is set as given, and the import batch says who ran what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from training.models import Review, ReviewPolicy, TrainingExample
from training.reviews_rules import ACCEPT, REJECT, decide
from training.services.reviews import policy_rule

VERDICT_OF_STATUS = {TrainingExample.Status.APPROVED: ACCEPT, TrainingExample.Status.REJECTED: REJECT}


@dataclass(frozen=True)
class GivenStatus:
    status: str  # what the new examples get
    verdict: str | None  # the review recorded for each; None: none (draft, or no acting user)
    reviewer: Any
    comment: str

    def example_fields(self, now: datetime) -> dict[str, Any]:
        """TrainingExample fields for a new row (foreign keys by id: imports build thousands)."""
        if self.verdict is None:
            return {"status": self.status}
        return {"status": self.status, "reviewed_by_id": self.reviewer.pk, "reviewed_at": now}

    def reviews_create(self, examples: Sequence[TrainingExample], *, audited: bool = True) -> int:
        """The reviewer's review of each new example. `audited=False` (an import's chunk) writes them in
        bulk, without an audit entry each, as the import writes its examples; the batch is the record."""
        if self.verdict is None or not examples:
            return 0
        reviews = [
            Review(example=e, reviewer=self.reviewer, verdict=self.verdict, comment=self.comment)
            for e in examples
        ]
        if audited:
            for review in reviews:
                review.full_clean(exclude=["example", "reviewer"])
                review.save()
        else:
            Review.objects.bulk_create(reviews, batch_size=500)
        return len(reviews)


def given_status(*, status: str, policy: ReviewPolicy | None, reviewer: Any, comment: str) -> GivenStatus:
    """What giving `status` to new examples means: the acting user's review, and the status it decides."""
    verdict = VERDICT_OF_STATUS.get(status)
    if verdict is None or not getattr(reviewer, "pk", None):
        return GivenStatus(status, None, None, comment)
    return GivenStatus(decide(policy_rule(policy), [verdict]).status, verdict, reviewer, comment[:4000])


def import_given_status(batch: Any) -> GivenStatus:
    """An import's default status, given by whoever started the import (ImportBatch.created_by)."""
    return given_status(
        status=batch.default_status,
        policy=batch.review_policy,
        reviewer=batch.created_by,
        comment=f"Imported as {batch.default_status} (import {batch.pk}).",
    )
