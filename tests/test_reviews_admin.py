"""The review queue in the admin: Review next, others' verdicts hidden until you give yours, the reviews
list with the same rule, the approve action through reviews, the agreement report, constant queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.roles import CURATORS
from tests.factories import TrainingExampleFactory
from tests.shared_fixtures import user_in_role
from training.agreement import cohen_pairs, krippendorff_alpha
from training.models import Review, TrainingExample
from training.services.reviews import review_policy_create, review_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(client):
    user = user_in_role("ann", CURATORS, is_staff=True)
    client.force_login(user)
    return user


@pytest.fixture
def bob():
    return user_in_role("bob", CURATORS, is_staff=True)


def test_review_next_opens_an_example_and_a_verdict_saves_a_review(client, ann):
    example = TrainingExampleFactory(prompt="a paper plane")
    page = client.get(reverse("admin:training_review_queue"))
    body = page.content.decode()
    assert "a paper plane" in body and "?size=xl" in body
    assert (
        "Similar examples" in body and "similarity index is not built yet" in body
    )  # no index: a build queued
    assert page.context["action_url"] == reverse("admin:training_review_example", args=[example.pk])
    saved = client.post(page.context["action_url"], {"verdict": "accept", "score": "4", "comment": "clean"})
    assert saved.status_code == 302
    review = Review.objects.get()
    assert (review.example, review.reviewer, review.verdict, review.score) == (example, ann, "accept", 4)
    assert TrainingExample.objects.get(pk=example.pk).status == "approved"
    assert "queue-empty" in client.get(saved["Location"]).content.decode()


def test_others_verdicts_are_hidden_in_the_queue_until_you_give_yours(client, ann, bob):
    policy = review_policy_create(name="pairs", reviews_needed=2)
    example = TrainingExampleFactory(review_policy=policy)
    review_submit(example=example, reviewer=bob, verdict="reject", comment="BOB-SAYS-WRONG-SHAPE")
    url = reverse("admin:training_review_example", args=[example.pk])
    before = client.get(url).content.decode()
    assert "BOB-SAYS-WRONG-SHAPE" not in before and 'data-verdict="reject"' not in before
    assert "1 other verdict hidden until you give yours" in before
    client.post(url, {"verdict": "accept"})
    after = client.get(url).content.decode()
    assert "BOB-SAYS-WRONG-SHAPE" in after and 'data-verdict="reject"' in after


def test_the_reviews_list_hides_others_verdicts_too_unless_you_may_see_all(client, ann, bob):
    example = TrainingExampleFactory()
    review_submit(example=example, reviewer=bob, verdict="reject", comment="BOB-SAYS-WRONG-SHAPE")
    changelist = reverse("admin:training_review_changelist")
    assert client.get(changelist).context["cl"].result_count == 0
    ann.user_permissions.add(Permission.objects.get(codename="view_all_reviews"))
    assert client.get(changelist).context["cl"].result_count == 1


def test_the_approve_action_goes_through_reviews_under_the_policy(client, ann, bob):
    policy = review_policy_create(name="pairs", reviews_needed=2)
    examples = TrainingExampleFactory.create_batch(2, review_policy=policy)
    url = reverse("admin:training_trainingexample_changelist")
    client.post(url, {"action": "approve", "_selected_action": [str(e.pk) for e in examples]})
    assert Review.objects.filter(reviewer=ann, verdict="accept").count() == 2
    assert set(TrainingExample.objects.values_list("status", flat=True)) == {"draft"}  # needs a second
    client.force_login(bob)
    client.post(url, {"action": "approve", "_selected_action": [str(e.pk) for e in examples]})
    assert set(TrainingExample.objects.values_list("status", flat=True)) == {"approved"}


# A hand-made table: 3 reviewers, 6 examples, one vote missing.
TABLE = {
    "ann": ["accept", "accept", "reject", "needs_changes", "accept", "reject"],
    "bob": ["accept", "reject", "reject", "needs_changes", "accept", "accept"],
    "cy": ["accept", "accept", "reject", None, "reject", "reject"],
}


def test_agreement_figures_match_the_libraries_on_a_hand_made_table():
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    votes = [(i, r, v) for r, row in TABLE.items() for i, v in enumerate(row) if v is not None]
    pairs = {(p.a, p.b): p for p in cohen_pairs(votes)}
    assert pairs["ann", "bob"].kappa == pytest.approx(
        cohen_kappa_score(TABLE["ann"], TABLE["bob"], labels=["accept", "reject", "needs_changes"])
    )
    both = [i for i in range(6) if TABLE["cy"][i] is not None]
    assert pairs["ann", "cy"].shared == 5
    assert pairs["ann", "cy"].kappa == pytest.approx(
        cohen_kappa_score([TABLE["ann"][i] for i in both], [TABLE["cy"][i] for i in both])
    )
    code = {"accept": 0, "reject": 1, "needs_changes": 2, None: np.nan}
    data = np.array([[code[v] for v in row] for row in TABLE.values()], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(votes) == pytest.approx(expected)
    assert 0 < expected < 1  # neither chance nor perfect: a table that tells them apart


def test_the_agreement_report_shows_kappa_and_alpha_per_queue(client, ann, bob):
    policy = review_policy_create(name="pairs", reviews_needed=2)
    for verdicts in [("accept", "accept"), ("reject", "reject"), ("accept", "reject")]:
        example = TrainingExampleFactory(review_policy=policy)
        review_submit(example=example, reviewer=ann, verdict=verdicts[0])
        review_submit(example=example, reviewer=bob, verdict=verdicts[1])
    body = client.get(reverse("admin:training_review_agreement")).content.decode()
    assert "Krippendorff&#x27;s alpha (nominal): 0.4" in body or "Krippendorff's alpha (nominal): 0.4" in body
    assert "Cohen" in body and "ann" in body and "bob" in body


def test_the_queue_and_the_reviews_list_run_a_constant_number_of_queries(client, ann, bob):
    def grow(n: int) -> None:
        for _ in range(n):
            example = TrainingExampleFactory()
            review_submit(example=example, reviewer=ann, verdict="accept")
            review_submit(example=example, reviewer=bob, verdict="accept")

    urls = [reverse("admin:training_review_changelist"), reverse("admin:index")]
    grow(1)
    pending = TrainingExampleFactory()
    queue = reverse("admin:training_review_example", args=[pending.pk])
    for url in [*urls, queue]:  # warm the permission cache
        client.get(url)
    with CaptureQueriesContext(connection) as few:
        for url in [*urls, queue]:
            assert client.get(url).status_code == 200
    grow(6)
    with CaptureQueriesContext(connection) as many:
        for url in [*urls, queue]:
            assert client.get(url).status_code == 200
    assert len(many) == len(few), (
        "\n".join(q["sql"][:160] for q in many.captured_queries)
        + "\n----\n"
        + "\n".join(q["sql"][:160] for q in few.captured_queries)
    )


def test_the_dashboard_shows_progress_per_queue(client, ann, bob):
    policy = review_policy_create(name="pairs", reviews_needed=2)
    first, _ = TrainingExampleFactory.create_batch(2, review_policy=policy)
    review_submit(example=first, reviewer=ann, verdict="accept")
    review_submit(example=first, reviewer=bob, verdict="accept")
    TrainingExampleFactory()
    rows = {r["name"]: r for r in client.get(reverse("admin:index")).context["dashboard"]["reviews"]}
    assert (rows["pairs"]["given"], rows["pairs"]["needed"], rows["pairs"]["examples"]) == (2, 4, 2)
    assert (
        rows["Default (one review decides)"]["given"],
        rows["Default (one review decides)"]["needed"],
    ) == (0, 1)


def test_a_selection_goes_into_a_queue_and_an_import_names_one(client, ann):
    policy = review_policy_create(name="pairs", reviews_needed=2)
    examples = TrainingExampleFactory.create_batch(2)
    client.post(
        reverse("admin:training_trainingexample_changelist"),
        {
            "action": "set_review_queue",
            "_selected_action": [str(e.pk) for e in examples],
            "confirm": "yes",
            "review_policy": str(policy.pk),
        },
    )
    assert TrainingExample.objects.filter(review_policy=policy).count() == 2
    from training.models import ImportBatch
    from training.services.import_run import _example
    from training.services.imports import import_batch_create

    batch = import_batch_create(
        source_name="x.jsonl", source_path="x", format="jsonl", review_policy=policy, enqueue=False
    )
    assert ImportBatch.objects.get(pk=batch.pk).review_policy == policy

    class Row:  # the one field _example reads from a checked row that matters here is none: it copies the batch's
        prompt, source, source_url, line, external_id, category, tags, metadata = (
            "p",
            "s",
            "",
            1,
            "",
            "",
            [],
            {},
        )
        clean = type("C", (), {"svg": "<svg/>", "content_hash": "0" * 64})

    assert _example(batch, Row, "jsonl", batch.created_at).review_policy_id == policy.pk
