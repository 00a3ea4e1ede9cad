"""Search for curators through the API: by words (ranked), by picture (the vector index), and bad input."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import Group

from core.roles import CURATORS
from core.svg import clean_svg
from tests.api.conftest import client_for
from tests.factories import UserFactory
from tests.shared_fixtures import MDI_ICONS
from training.models import ExampleFingerprint, SimilarityIndexBuild, TrainingExample

pytestmark = pytest.mark.django_db
MDI = MDI_ICONS
BLANK = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M1 1" fill="none"/></svg>'


@pytest.fixture
def curator(roles):
    user = UserFactory(username="cur-search")
    user.groups.add(Group.objects.get(name=CURATORS))
    return client_for(user)


@pytest.fixture(autouse=True)
def _work_dir(settings, tmp_path):
    settings.WORK_DIR = tmp_path  # the index file of each test is its own


def example(name: str, svg: str | None = None, **extra) -> TrainingExample:
    svg = svg if svg is not None else clean_svg((MDI / f"{name}.svg").read_text()).svg
    return TrainingExample.objects.create(
        prompt=f"{name.replace('-', ' ')} icon",
        svg_content=svg,
        external_id=name,
        content_hash=hashlib.sha256(name.encode()).hexdigest(),
        **extra,
    )


def test_words_find_the_named_icon_first(curator):
    # Neither insertion order nor newest-first is the ranked order.
    for name in ("arrow-down-circle", "arrow-down", "arrow-up", "circle"):
        example(name)
    example("tag-heart", tags=["arrow", "down"])
    response = curator.get("/api/v1/examples/search/", {"q": "Arrow down"})
    assert response.status_code == 200, response.json()
    names = [hit["name"] for hit in response.json()["results"]]
    assert names == ["arrow-down", "arrow-down-circle", "tag-heart"]


@pytest.mark.parametrize(
    ("query", "code"), [("", "empty_query"), ("  -- ", "empty_query"), ("a" * 501, "query_too_long")]
)
def test_bad_queries_answer_400_with_their_code(curator, query, code):
    response = curator.get("/api/v1/examples/search/", {"q": query})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["fields"]["q"]


def test_a_query_of_500_characters_is_taken(curator):
    assert curator.get("/api/v1/examples/search/", {"q": "a " * 250}).status_code == 200


def test_similar_without_an_index_answers_503_and_queues_a_build(curator):
    target = example("arrow-down")
    response = curator.get(f"/api/v1/examples/{target.pk}/similar/")
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == "similarity_index_missing" and "queued" in body["message"]
    assert SimilarityIndexBuild.objects.filter(status="pending").count() == 1
    curator.get(f"/api/v1/examples/{target.pk}/similar/")
    assert SimilarityIndexBuild.objects.count() == 1  # one build queued, not one per request


def test_similar_ranks_the_look_alike_first_and_leaves_out_what_does_not_render(curator):
    from training.tasks import build_similarity_index

    target = example("arrow-down")
    bold = example("arrow-down-bold")
    for name in ("account", "home", "cog"):
        example(name)
    example("blank", svg=BLANK)
    build = SimilarityIndexBuild.objects.create()
    build_similarity_index(str(build.pk))
    build.refresh_from_db()
    assert build.status == "completed", build.error_message
    assert (build.examples_indexed, build.examples_without_rendering) == (5, 1)
    assert ExampleFingerprint.objects.get(example__external_id="blank").rendered is False
    body = curator.get(f"/api/v1/examples/{target.pk}/similar/", {"limit": 3}).json()
    assert body["rendered"] is True
    results = body["results"]
    assert [r["example"]["id"] for r in results][0] == str(bold.pk)
    assert str(target.pk) not in {r["example"]["id"] for r in results}
    assert results[0]["similarity"] >= results[-1]["similarity"]
    blank = TrainingExample.objects.get(external_id="blank")
    assert curator.get(f"/api/v1/examples/{blank.pk}/similar/").json() == {
        "example": str(blank.pk),
        "rendered": False,
        "results": [],
    }


def test_unknown_example_answers_404(curator):
    response = curator.get("/api/v1/examples/00000000-0000-0000-0000-000000000000/similar/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "example_not_found"


def test_api_consumers_may_not_search(roles):
    from core.roles import API_CONSUMERS
    from tests.shared_fixtures import user_in_role

    consumer = client_for(user_in_role("consumer-search", API_CONSUMERS))
    assert consumer.get("/api/v1/examples/search/", {"q": "arrow"}).status_code == 403
