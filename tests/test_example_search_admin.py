"""The examples' admin: word search ranked in the changelist at a constant number of queries, search by
picture (an upload or an example), the similar panel on an example's page."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.svg import clean_svg, render_png
from tests.shared_fixtures import MDI_ICONS
from training.models import SimilarityIndexBuild, TrainingExample
from training.services.similarity import similarity_index_build_execute

pytestmark = pytest.mark.django_db
MDI = MDI_ICONS
CHANGELIST = "admin:training_trainingexample_changelist"


@pytest.fixture(autouse=True)
def _work_dir(settings, tmp_path):
    settings.WORK_DIR = tmp_path


def example(name: str, **extra) -> TrainingExample:
    return TrainingExample.objects.create(
        prompt=f"{name.replace('-', ' ')} icon",
        svg_content=clean_svg((MDI / f"{name}.svg").read_text()).svg,
        external_id=name,
        content_hash=hashlib.sha256(name.encode()).hexdigest(),
        **extra,
    )


def build_index() -> None:
    from core.jobs.lifecycle import job_claim

    build = SimilarityIndexBuild.objects.create()
    similarity_index_build_execute(build=job_claim(SimilarityIndexBuild, build.pk))


def test_changelist_word_search_is_ranked_at_a_constant_query_count(client, superuser):
    example("arrow-down-circle")
    example("arrow-down")
    example("tag", tags=["arrow", "down"])  # neither insertion order nor newest-first is the ranked order
    url = reverse(CHANGELIST) + "?q=arrow+down"
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert [e.external_id for e in response.context["cl"].result_list] == [
        "arrow-down",
        "arrow-down-circle",
        "tag",
    ]
    for name in ("arrow-down-bold", "arrow-down-thin", "home", "arrow-down-box"):
        example(name)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    names = [e.external_id for e in response.context["cl"].result_list]
    assert names[0] == "arrow-down" and names[-1] == "tag" and "home" not in names and len(names) == 6
    assert len(many) == len(few)


def test_changelist_query_over_500_characters_says_so(client, superuser):
    example("home")
    response = client.get(reverse(CHANGELIST), {"q": "x" * 501}, follow=True)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    assert "at most 500" in response.content.decode()


def test_picture_search_by_upload_and_the_similar_panel(client, superuser):
    home = example("home")
    example("home-outline")
    example("cog")
    build_index()
    png = render_png((MDI / "home.svg").read_text(), size=128, background="#ffffff")
    url = reverse("admin:training_trainingexample_picture_search")
    response = client.post(url, {"picture": SimpleUploadedFile("q.png", png, content_type="image/png")})
    found = response.context["similar"]
    assert found[0].example == home and found[0].near_duplicate
    page = client.get(reverse("admin:training_trainingexample_change", args=[home.pk])).content.decode()
    assert 'id="similar-panel"' in page and "home-outline" in page
    assert (
        reverse("admin:training_trainingexample_thumbnail", args=[home.pk])
        not in page.split("similar-panel")[1]
    )


def test_picture_search_refuses_a_non_image(client, superuser):
    url = reverse("admin:training_trainingexample_picture_search")
    response = client.post(url, {"picture": SimpleUploadedFile("q.png", b"not a png")})
    assert "PNG or JPEG" in response.content.decode()
