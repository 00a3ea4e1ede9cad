"""Reviews as rows: the policy decides the status, quality is the mean score, the queue serves each example
to one reviewer at a time (PostgreSQL, two real connections), a curator settles a dispute."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, connections

from tests.factories import TrainingExampleFactory, UserFactory
from training.models import Review, ReviewClaim, TrainingExample
from training.reviews_rules import PolicyRule, decide
from training.services.review_queue import review_next
from training.services.reviews import (
    review_policy_create,
    review_settle,
    review_submit,
    training_example_set_review_policy,
)

pytestmark = pytest.mark.django_db


def _status(example) -> str:
    return TrainingExample.objects.get(pk=example.pk).status


def test_two_reviews_majority_accepts_only_after_two_accepts():
    policy = review_policy_create(name="pairs", reviews_needed=2, agreement="majority")
    example = TrainingExampleFactory(review_policy=policy)
    ann, bob = UserFactory(), UserFactory()
    review_submit(example=example, reviewer=ann, verdict="accept", score=5)
    assert _status(example) == "draft"
    review_submit(example=example, reviewer=bob, verdict="accept", score=3)
    assert _status(example) == "approved"
    assert TrainingExample.objects.get(pk=example.pk).quality_score == 0.75  # mean 4 of 1..5


def test_one_accept_one_reject_under_majority_is_a_dispute_a_curator_may_settle():
    policy = review_policy_create(name="pairs", reviews_needed=2, agreement="majority")
    example = TrainingExampleFactory(review_policy=policy)
    review_submit(example=example, reviewer=UserFactory(), verdict="accept")
    review_submit(example=example, reviewer=UserFactory(), verdict="reject")
    assert _status(example) == "draft"
    with pytest.raises(PermissionDenied):
        review_settle(example=example, curator=UserFactory(), verdict="accept")
    lead = UserFactory(is_superuser=True)
    review_settle(example=example, curator=lead, verdict="accept", comment="the icon is fine")
    assert _status(example) == "approved"
    assert Review.objects.get(example=example, reviewer=lead).settles is True


def test_a_reviewer_changes_their_own_review_and_the_status_follows():
    example = TrainingExampleFactory()  # no queue: one review decides, as before
    ann = UserFactory()
    review_submit(example=example, reviewer=ann, verdict="accept")
    assert _status(example) == "approved"
    review_submit(example=example, reviewer=ann, verdict="reject")
    assert _status(example) == "rejected"
    assert Review.objects.filter(example=example).count() == 1


def test_reviews_and_their_changes_are_audited():
    from auditlog.models import LogEntry

    example = TrainingExampleFactory()
    ann = UserFactory()
    review = review_submit(example=example, reviewer=ann, verdict="accept")
    review_submit(example=example, reviewer=ann, verdict="needs_changes")
    entries = LogEntry.objects.get_for_object(review).order_by("timestamp")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert entries[1].changes_dict["verdict"] == ["accept", "needs_changes"]


def test_moving_a_selection_into_a_stricter_queue_reopens_it():
    example = TrainingExampleFactory()
    review_submit(example=example, reviewer=UserFactory(), verdict="accept")
    policy = review_policy_create(name="three", reviews_needed=3, agreement="at_least_k", min_accepts=2)
    training_example_set_review_policy(examples=TrainingExample.objects.filter(pk=example.pk), policy=policy)
    assert _status(example) == "draft"


@pytest.mark.parametrize(
    ("rule", "verdicts", "status", "state"),
    [
        (PolicyRule(3, "unanimous"), ["accept", "accept"], "draft", "pending"),
        (PolicyRule(3, "unanimous"), ["accept", "accept", "reject"], "draft", "disputed"),
        (PolicyRule(3, "unanimous"), ["reject"] * 3, "rejected", "rejected"),
        (PolicyRule(3, "at_least_k", 1), ["accept", "reject", "reject"], "approved", "accepted"),
        (
            PolicyRule(3, "at_least_k", 2),
            ["accept", "needs_changes", "needs_changes"],
            "draft",
            "needs_changes",
        ),
        (PolicyRule(3, "majority"), ["accept", "reject", "needs_changes"], "draft", "disputed"),
    ],
)
def test_the_policy_rules(rule, verdicts, status, state):
    outcome = decide(rule, verdicts)
    assert (outcome.status, outcome.state) == (status, state)


def test_next_skips_what_the_reviewer_reviewed_and_what_another_holds():
    first, second, third = TrainingExampleFactory.create_batch(3)
    ann, bob = UserFactory(), UserFactory()
    review_submit(example=first, reviewer=ann, verdict="accept")
    assert review_next(reviewer=ann) == second
    assert review_next(reviewer=bob) == third  # the first is decided, the second is ann's for now
    assert review_next(reviewer=ann) == second  # asking again keeps her own claim


def test_queues_a_reviewer_may_not_work_on_are_not_served():
    ann, bob = UserFactory(), UserFactory()
    private = review_policy_create(name="bob only", reviewers=[bob])
    TrainingExampleFactory(review_policy=private)
    assert review_next(reviewer=ann) is None
    assert review_next(reviewer=bob) is not None


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_asking_at_the_same_moment_get_different_examples():
    assert connection.vendor == "postgresql", "this test needs row locks: run it on PostgreSQL"
    TrainingExampleFactory.create_batch(4)
    reviewers = [UserFactory(), UserFactory()]
    barrier = threading.Barrier(2)
    served: dict[int, object] = {}

    def ask(i: int) -> None:
        try:  # each thread has its own connection: two real sessions on the server
            barrier.wait()
            served[i] = review_next(reviewer=reviewers[i])
        finally:
            connections.close_all()

    for _ in range(10):  # ten rounds of two clicks at once
        ReviewClaim.objects.all().delete()
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert served[0] is not None and served[1] is not None
        assert served[0].pk != served[1].pk
