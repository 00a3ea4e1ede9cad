"""review.settled: written (an outbox row) when the reviews decide an example's status or a curator settles
it; a vote that leaves the example pending, or changes nothing, announces nothing."""

from __future__ import annotations

import pytest

from core import events
from core.models import OutboxEvent
from tests.factories import TrainingExampleFactory, UserFactory
from training.services.reviews import review_policy_create, review_settle, review_submit

pytestmark = pytest.mark.django_db


def _announced() -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(type=events.REVIEW_SETTLED).order_by("created_at")]


def test_a_dispute_announces_nothing_until_a_curator_settles_it() -> None:
    policy = review_policy_create(name="pairs", reviews_needed=2, agreement="majority")
    example = TrainingExampleFactory(review_policy=policy)
    review_submit(example=example, reviewer=UserFactory(), verdict="accept", score=5)
    review_submit(example=example, reviewer=UserFactory(), verdict="reject", score=1)
    assert _announced() == []  # pending, then disputed: still a draft
    lead = UserFactory(username="lead", is_superuser=True)
    review_settle(example=example, curator=lead, verdict="reject", comment="off-style")
    (payload,) = _announced()
    assert payload["id"] == str(example.pk) and payload["url"] == f"/api/v1/examples/{example.pk}/reviews/"
    assert payload["summary"] == {
        "status": "rejected",
        "state": "settled",
        "reviews": 3,
        "by": "lead",
        "quality_score": 0.5,
    }


def test_a_majority_decision_is_announced_once() -> None:
    policy = review_policy_create(name="pairs", reviews_needed=2, agreement="majority")
    example = TrainingExampleFactory(review_policy=policy)
    ann, bob = UserFactory(), UserFactory(username="bob")
    review_submit(example=example, reviewer=ann, verdict="accept")
    assert _announced() == []
    review_submit(example=example, reviewer=bob, verdict="accept")
    review_submit(example=example, reviewer=bob, verdict="accept", comment="still fine")  # no change
    (payload,) = _announced()
    assert payload["summary"]["status"] == "approved" and payload["summary"]["state"] == "accepted"
    assert payload["summary"]["by"] == "bob" and payload["summary"]["reviews"] == 2


def test_a_settlement_that_keeps_the_status_is_still_announced() -> None:
    example = TrainingExampleFactory()  # no queue: one review decides
    review_submit(example=example, reviewer=UserFactory(), verdict="accept")
    review_settle(example=example, curator=UserFactory(username="lead", is_superuser=True), verdict="accept")
    first, second = (p["summary"] for p in _announced())
    assert (first["status"], first["state"]) == ("approved", "accepted")
    assert (second["status"], second["state"], second["by"]) == ("approved", "settled", "lead")
