"""Reviews through the API: others' verdicts hidden until you gave yours; your review changes the status."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from core.roles import API_CONSUMERS, CURATORS
from tests.api.conftest import client_for
from tests.factories import TrainingExampleFactory
from tests.shared_fixtures import user_in_role
from training.services.reviews import review_policy_create, review_submit

pytestmark = pytest.mark.django_db


def _url(example) -> str:
    return f"/api/v1/examples/{example.pk}/reviews/"


def test_a_curator_cannot_read_others_verdicts_before_giving_theirs():
    ann, bob = user_in_role("ann", CURATORS), user_in_role("bob", CURATORS)
    example = TrainingExampleFactory(review_policy=review_policy_create(name="pairs", reviews_needed=2))
    review_submit(example=example, reviewer=bob, verdict="reject", comment="wrong shape")
    api = client_for(ann)
    before = api.get(_url(example))
    assert before.status_code == 200
    assert before.json()["reviews"] == [] and before.json()["hidden"] == 1
    assert "wrong shape" not in before.content.decode() and "reject" not in before.content.decode()
    given = api.post(_url(example), {"verdict": "accept", "score": 5}, format="json")
    assert given.status_code == 200
    body = given.json()
    assert body["hidden"] == 0 and body["status"] == "draft"  # one accept, one reject: a dispute
    assert sorted(r["verdict"] for r in body["reviews"]) == ["accept", "reject"]


def test_a_curator_with_the_permission_sees_all_at_once():
    lead, bob = user_in_role("lead", CURATORS), user_in_role("bob", CURATORS)
    lead.user_permissions.add(Permission.objects.get(codename="view_all_reviews"))
    example = TrainingExampleFactory()
    review_submit(example=example, reviewer=bob, verdict="reject")
    body = client_for(lead).get(_url(example)).json()
    assert [r["verdict"] for r in body["reviews"]] == ["reject"] and body["hidden"] == 0


def test_bad_input_and_unknown_examples_and_roles():
    ann = user_in_role("ann", CURATORS)
    example = TrainingExampleFactory()
    api = client_for(ann)
    bad = api.post(_url(example), {"verdict": "maybe", "score": 9}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert set(bad.json()["error"]["fields"]) == {"verdict", "score"}
    missing = api.get("/api/v1/examples/00000000-0000-0000-0000-000000000000/reviews/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "example_not_found"
    consumer = client_for(user_in_role("carl", API_CONSUMERS))
    assert consumer.get(_url(example)).status_code == 403
