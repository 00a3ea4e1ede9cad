"""Rating designs through the API: one rating per user and design, editable, others' designs answer 404."""

from __future__ import annotations

import pytest

from feedback.models import Feedback
from tests.api.conftest import assert_field_error, client_for, run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(api, model_version, fake_generator):
    response = api.post("/api/v1/generations/", {"text": "a large red circle at the top left"}, format="json")
    assert response.status_code == 202, response.json()
    run_jobs()
    return response.json()["id"]


def test_rate_edit_list_and_aggregate(api, done, model_version):
    url = f"/api/v1/generations/{done}/feedback/"
    first = api.post(url, {"rating": 4, "comments": "good"}, format="json")
    assert first.status_code == 200, first.json()
    again = api.post(url, {"rating": 5}, format="json")
    assert again.json()["id"] == first.json()["id"] and again.json()["rating"] == 5
    assert Feedback.objects.count() == 1
    patched = api.patch(f"/api/v1/feedback/{first.json()['id']}/", {"comments": "perfect"}, format="json")
    assert (
        patched.status_code == 200
        and patched.json()["comments"] == "perfect"
        and patched.json()["rating"] == 5
    )
    listed = api.get("/api/v1/feedback/").json()
    assert [f["id"] for f in listed["results"]] == [first.json()["id"]]
    [row] = api.get("/api/v1/feedback/aggregates/?by=model_version").json()
    assert row["label"] == str(model_version) and row["count"] == 1 and row["distribution"]["5"] == 1
    assert_field_error(api.get("/api/v1/feedback/aggregates/?by=planet"), "by", "by must be one of")


@pytest.mark.parametrize("rating", [0, 6, "five", None])
def test_bad_ratings_are_field_errors_and_change_nothing(api, done, rating):
    response = api.post(f"/api/v1/generations/{done}/feedback/", {"rating": rating}, format="json")
    assert_field_error(response, "rating")
    assert not Feedback.objects.exists()


def test_another_users_design_and_rating_answer_404(api, done, other):
    stranger = client_for(other)
    assert (
        stranger.post(f"/api/v1/generations/{done}/feedback/", {"rating": 3}, format="json").status_code
        == 404
    )
    mine = api.post(f"/api/v1/generations/{done}/feedback/", {"rating": 3}, format="json").json()
    assert stranger.get(f"/api/v1/feedback/{mine['id']}/").status_code == 404
    assert stranger.patch(f"/api/v1/feedback/{mine['id']}/", {"rating": 1}, format="json").status_code == 404
    assert Feedback.objects.get().rating == 3
    assert client_for(None).get("/api/v1/feedback/").status_code == 401
