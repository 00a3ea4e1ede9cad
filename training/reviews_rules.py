"""What a set of verdicts means under a review policy: pure functions, no queries (tested on their own)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ACCEPT, REJECT, NEEDS_CHANGES = "accept", "reject", "needs_changes"


@dataclass(frozen=True)
class PolicyRule:
    reviews_needed: int = 1
    agreement: str = "majority"  # unanimous | majority | at_least_k
    min_accepts: int | None = None


DEFAULT_RULE = PolicyRule()  # an example in no queue: one review decides, as before reviews were rows


@dataclass(frozen=True)
class Outcome:
    status: str  # the example's status: draft | approved | rejected
    state: str  # pending | accepted | rejected | needs_changes | disputed | settled


def decide(rule: PolicyRule, verdicts: Sequence[str], settled: str | None = None) -> Outcome:
    """The example's status from its reviewers' verdicts (a curator's settlement, when given, decides)."""
    if settled is not None:
        return Outcome(_STATUS[settled], "settled")
    n = len(verdicts)
    if n < rule.reviews_needed:
        return Outcome("draft", "pending")
    accepts, rejects = verdicts.count(ACCEPT), verdicts.count(REJECT)
    changes = n - accepts - rejects
    if rule.agreement == "unanimous":
        won = ACCEPT if accepts == n else REJECT if rejects == n else NEEDS_CHANGES if changes == n else None
    elif rule.agreement == "at_least_k":
        k = rule.min_accepts or rule.reviews_needed
        won = ACCEPT if accepts >= k else (REJECT if rejects >= changes else NEEDS_CHANGES)
    else:  # majority: more than half; a tie is a dispute
        won = (
            ACCEPT
            if 2 * accepts > n
            else REJECT
            if 2 * rejects > n
            else NEEDS_CHANGES
            if 2 * changes > n
            else None
        )
    if won is None:
        return Outcome("draft", "disputed")
    return Outcome(
        _STATUS[won], {ACCEPT: "accepted", REJECT: "rejected", NEEDS_CHANGES: "needs_changes"}[won]
    )


_STATUS = {ACCEPT: "approved", REJECT: "rejected", NEEDS_CHANGES: "draft"}


def quality_from_scores(scores: Sequence[int | None]) -> float | None:
    """The mean review score (1 to 5) on the example's 0-to-1 scale; None when nobody scored it."""
    given = [s for s in scores if s is not None]
    if not given:
        return None
    return round((sum(given) / len(given) - 1) / 4, 4)
