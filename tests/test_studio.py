"""The studio: the dashboard on the admin's home page (constant queries, links, empty states, live jobs),
the playground (the API's generation service, logged; rate and promote in place), and who may see them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.roles import API_CONSUMERS, CURATORS, ML_STAFF
from feedback.models import Feedback, Promotion
from generation import engine
from generation.models import ApiRequest, DesignOutput
from tests.api.conftest import FakeGenerator, png_bytes, run_jobs
from tests.factories import make_graph
from tests.shared_fixtures import user_in_role
from training.models import ImportBatch, ModelAlias, SLMModel, TrainingRun

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
PLAYGROUND = "/admin/playground/"


@pytest.fixture
def fake_generator(monkeypatch: pytest.MonkeyPatch) -> FakeGenerator:
    fake = FakeGenerator()
    monkeypatch.setattr(engine, "get_generator", lambda model: fake)
    return fake


def _running_jobs(i: int) -> None:
    dataset = make_graph(i)["dataset"]
    TrainingRun.objects.create(dataset=dataset, status="running", progress=0.4, step=4, total_steps=10)
    ImportBatch.objects.create(source_name=f"live{i}.jsonl", format="jsonl", status="running", progress=0.5)
    DesignOutput.objects.filter(prompt__text_content=f"a blue square {i}").update(status="failed")


# --- the dashboard -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["superuser", CURATORS, ML_STAFF])
def test_dashboard_runs_a_fixed_number_of_queries_whatever_the_data_holds(client, roles, role):
    user = (
        user_in_role("root", is_staff=True, is_superuser=True)
        if role == "superuser"
        else user_in_role("someone", role, is_staff=True)
    )
    client.force_login(user)
    with CaptureQueriesContext(connection) as empty:
        assert client.get(INDEX).status_code == 200
    _running_jobs(0)
    with CaptureQueriesContext(connection) as one:
        assert client.get(INDEX).status_code == 200
    for i in range(1, 5):
        _running_jobs(i)
    ModelAlias.objects.create(name="production", model_version=SLMModel.objects.first())
    with CaptureQueriesContext(connection) as five:
        response = client.get(INDEX)
    assert response.status_code == 200
    # An empty database skips the designs' prefetch (nothing to prefetch): one query fewer, never more.
    assert len(empty) <= len(one) == len(five), (
        f"{role}: {len(empty)} queries empty, {len(one)} with 1 graph, {len(five)} with 5:\n"
        + "\n".join(q["sql"][:160] for q in five.captured_queries)
    )
    # What the figures in the README come from.
    print(f"dashboard queries for {role}: {len(empty)} empty, {len(five)} with data")


def test_every_number_and_row_links_to_the_filtered_changelist(client, superuser):
    graph = make_graph(0, user=superuser)
    _running_jobs(1)
    model = SLMModel.objects.get(model_name="m0", version=2)
    model.metrics = {"adherence_rate": 0.97, "valid_nonblank_rate": 1.0, "val_loss": 0.51234}
    model.save()
    ModelAlias.objects.create(name="production", model_version=model)
    html = client.get(INDEX).content.decode()
    # Models: production first, its version, its headline metrics.
    assert re.search(
        r'data-alias="production".*?m0 v2.*?adherence <b>97%</b>.*?val loss <b>0.512</b>', html, re.S
    )
    assert "No model in production yet" not in html
    # Jobs: live progress bars, polled; failures of the last 7 days link to their changelists.
    assert 'data-kind="runs"' in html and 'data-kind="imports"' in html and "<progress" in html
    assert "/admin/generation/designoutput/?status__exact=failed&amp;finished_at__date__gte=" in html
    # Data: examples by source and status, each cell a filtered changelist.
    assert "/admin/training/trainingexample/?source_type__exact=manual&amp;status__exact=draft" in html
    # Traffic: per-day bars link to that day's requests; ratings per model version.
    assert "/admin/generation/designoutput/?created_at__date=" in html
    assert "/admin/feedback/feedback/?output__model_version__id__exact=" in html
    # Designs: thumbnails (PNG through the admin), each linking to its design output.
    output = graph["output"]
    assert reverse("admin:generation_designoutput_change", args=[output.pk]) in html
    assert "/admin/generation/outputimage/" in html and "thumbnail.png" in html
    # Every link the dashboard draws opens (no disallowed lookup, no 500).
    dashboard = html.split('id="dashboard"')[1].split("all-models-heading")[0]
    for href in set(re.findall(r'href="(/admin/[^"]+)"', dashboard)):
        href = href.replace("&amp;", "&")
        assert client.get(href).status_code == 200, href


def test_empty_dashboard_says_what_to_do_next(client, superuser):
    html = client.get(INDEX).content.decode()
    assert "No model in production yet: train one from a" in html
    assert "No training examples yet" in html and "import a data set" in html
    assert "No snapshots yet" in html
    assert "Nothing running." in html
    assert "No designs yet" in html and PLAYGROUND in html
    assert 'id="content-main"' in html and "app-training" in html  # the model list is still below


def test_job_progress_endpoint_reports_the_jobs_the_dashboard_shows(client, superuser):
    make_graph(0)
    run = TrainingRun.objects.create(
        dataset=make_graph(1)["dataset"], status="running", progress=0.25, step=5, total_steps=20
    )
    batch = ImportBatch.objects.create(source_name="x.jsonl", format="jsonl", status="running", progress=0.5)
    url = reverse("admin:dashboard_jobs") + f"?runs={run.pk},not-a-uuid&imports={batch.pk}"
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()
    assert body["runs"] == [
        {
            "id": str(run.pk),
            "status": "running",
            "progress": 0.25,
            "step": 5,
            "total_steps": 20,
            "eta_seconds": None,
        }
    ]
    assert body["imports"][0]["progress"] == 0.5
    assert len(queries) <= 4  # session, user, runs, imports


# --- who may see what -------------------------------------------------------------------------------------


def test_pages_answer_403_for_roles_that_should_not_see_them(client, roles):
    consumer = user_in_role("consumer", API_CONSUMERS)
    bare_staff = user_in_role("bare", None, is_staff=True)
    for user, forbidden in (
        (consumer, [INDEX, PLAYGROUND, reverse("admin:dashboard_jobs"), reverse("admin:playground_status")]),
        (bare_staff, [PLAYGROUND, reverse("admin:dashboard_jobs"), reverse("admin:playground_status")]),
    ):
        client.force_login(user)
        for url in forbidden:
            assert client.get(url).status_code == 403, (user.username, url)
    for role in (CURATORS, ML_STAFF):
        client.force_login(user_in_role(role.replace(" ", ""), role, is_staff=True))
        assert client.get(INDEX).status_code == 200
        assert client.get(PLAYGROUND).status_code == 200
        assert client.get(reverse("admin:dashboard_jobs")).status_code == 200
    client.logout()
    response = client.get(PLAYGROUND)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_dashboard_panels_follow_permissions(client, roles):
    make_graph(0)
    client.force_login(user_in_role("bare", None, is_staff=True))
    html = client.get(INDEX).content.decode()
    assert 'id="dashboard"' in html
    for panel in ("dash-models", "dash-jobs", "dash-data", "dash-traffic", "dash-designs"):
        assert f'id="{panel}"' not in html, panel
    client.force_login(user_in_role("cora", CURATORS, is_staff=True))
    html = client.get(INDEX).content.decode()
    assert 'id="dash-data"' in html and 'id="dash-designs"' in html
    assert "/admin/generation/apirequest/" not in html  # curators do not read the request log


# --- the playground ---------------------------------------------------------------------------------------


@pytest.fixture
def two_versions(db: Any) -> tuple[SLMModel, SLMModel]:
    a = SLMModel.objects.create(model_name="atelier-slm", version=1, storage_path="models/a/1")
    b = SLMModel.objects.create(model_name="atelier-slm", version=2, storage_path="models/a/2")
    ModelAlias.objects.create(name="production", model_version=a)
    return a, b


def test_playground_generates_side_by_side_through_the_api_service_then_rates_and_promotes(
    client, roles, two_versions, fake_generator
):
    a, b = two_versions
    curator = user_in_role("cora", CURATORS, is_staff=True)
    client.force_login(curator)
    form = client.get(PLAYGROUND)
    assert form.status_code == 200 and 'value="production"' in form.content.decode()
    response = client.post(
        PLAYGROUND,
        {
            "text": "a red circle",
            "model_a": "production",
            "model_b": str(b.pk),
            "count": 2,
            "temperature": 0.7,
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    outputs = list(DesignOutput.objects.filter(prompt__user=curator).order_by("created_at"))
    assert [o.model_version for o in outputs] == [a, b]
    assert outputs[0].seed == outputs[1].seed, "both sides share one seed"
    assert all(o.requested_count == 2 and o.temperature == 0.7 for o in outputs)
    # Logged as the API logs its calls: one request-log row per request, with its prompt.
    logged = ApiRequest.objects.filter(endpoint=PLAYGROUND, user=curator)
    assert sorted(str(r.prompt_id) for r in logged) == sorted(str(o.prompt_id) for o in outputs)
    assert all(r.status_code == 202 and r.request_payload["body"]["text"] == "a red circle" for r in logged)

    results = response["Location"]
    query = parse_qs(urlsplit(results).query)
    ids, models = query["ids"][0], query["models"][0]
    assert models == f"production,{b.pk}"
    waiting = client.get(results).content.decode()
    assert "Generating…" in waiting
    status = client.get(reverse("admin:playground_status") + "?ids=" + ids).json()
    assert status["done"] is False
    run_jobs()
    html = client.get(results).content.decode()
    assert html.count("data-output=") == 2
    assert html.index("atelier-slm v1") < html.index("atelier-slm v2")
    assert html.count('class="playground-design"') == 4
    assert "<svg" not in html.split('id="playground-results"')[1].split("<script")[0].replace(
        '<svg class="chart"', ""
    ), "designs are PNGs, never inline SVG"
    image = re.search(r'<img class="design-thumb" src="([^"]+)"', html).group(1)
    png = client.get(image.replace("&amp;", "&"))
    assert (
        png.status_code == 200 and png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    )

    rated = client.post(
        reverse("admin:playground_rate", args=[outputs[1].pk]), {"rating": "4", "ids": ids, "models": models}
    )
    assert rated.status_code == 302 and rated["Location"] == results
    assert Feedback.objects.get(output=outputs[1], user=curator).rating == 4
    promoted = client.post(
        reverse("admin:playground_promote", args=[outputs[1].pk, 1]), {"status": "approved", "ids": ids}
    )
    assert promoted.status_code == 302
    promotion = Promotion.objects.get(output=outputs[1])
    assert promotion.sequence_order == 1 and promotion.example.status == "approved"
    assert promotion.model_version == b and promotion.promoted_by == curator
    html = client.get(results).content.decode()
    assert "your rating: 4★" in html and "In the training data" in html


def test_playground_keeps_the_alias_chosen_and_says_when_designs_are_short(
    client, roles, two_versions, fake_generator
):
    client.force_login(user_in_role("cora", CURATORS, is_staff=True))
    fake_generator.make = lambda p, i: (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><circle cx="48" cy="48" r="20" fill="#e53935"/></svg>'
    )
    response = client.post(
        PLAYGROUND, {"text": "a red circle", "model_a": "production", "count": 2, "temperature": 0.7}
    )
    run_jobs()
    page = client.get(response["Location"])
    form = page.context["form"]
    assert form["model_a"].value() == "production", "the alias stays chosen, not the version it named"
    html = page.content.decode()
    select = re.search(r'<select name="model_a".*?</select>', html, re.S).group(0)
    assert re.search(r'<option value="([^"]*)" selected>', select).group(1) == "production"
    assert 'class="designs-short' in html and "1 design short of the 2 asked for" in html


def test_playground_takes_a_template_a_style_guide_and_an_input_image(
    client, superuser, two_versions, fake_generator
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.models import PromptTemplateVersion, StyleGuide
    from tests.factories import PromptTemplateFactory

    template = PromptTemplateFactory(created_by=superuser)
    version = PromptTemplateVersion.objects.create(
        template=template, version=1, content="a {{ shape }}", variables=["shape"], created_by=superuser
    )
    guide = StyleGuide.objects.create(guide_name="Red", category="icon", is_published=True, style_rules={})
    response = client.post(
        PLAYGROUND,
        {
            "template_version": str(version.pk),
            "variables": "shape=circle",
            "style_guide": str(guide.pk),
            "image": SimpleUploadedFile("in.png", png_bytes(), content_type="image/png"),
            "model_a": "production",
            "count": 1,
            "seed": 7,
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    output = DesignOutput.objects.get(prompt__user=superuser, prompt__template_version=version)
    assert output.prompt.text_content == "a circle" and output.prompt.style_guide == guide
    assert output.seed == 7 and output.prompt.input_images.count() == 1


def test_playground_shows_the_services_errors_on_the_form_and_logs_the_refusal(
    client, superuser, two_versions
):
    response = client.post(PLAYGROUND, {"text": "", "model_a": "production", "count": 1})
    assert response.status_code == 200
    assert "Give a prompt or choose a template." in response.content.decode()
    response = client.post(
        PLAYGROUND, {"text": "x" * 10, "model_a": "production", "count": 1, "temperature": 5}
    )
    assert "temperature" in response.context["form"].errors
    assert not DesignOutput.objects.exists()


def test_ml_staff_may_rate_but_not_promote_from_the_playground(client, roles, two_versions, fake_generator):
    ml = user_in_role("mel", ML_STAFF, is_staff=True)
    client.force_login(ml)
    client.post(PLAYGROUND, {"text": "a red circle", "model_a": "production", "count": 1})
    run_jobs()
    output = DesignOutput.objects.get(prompt__user=ml)
    html = client.get(f"{PLAYGROUND}?ids={output.pk}").content.decode()
    assert "promote-draft" not in html
    assert (
        client.post(reverse("admin:playground_promote", args=[output.pk, 0]), {"status": "draft"}).status_code
        == 403
    )
    assert client.post(reverse("admin:playground_rate", args=[output.pk]), {"rating": "5"}).status_code == 302
    assert Feedback.objects.filter(output=output, user=ml, rating=5).exists()


def test_a_user_cannot_rate_or_see_another_users_playground_designs(
    client, roles, two_versions, fake_generator
):
    cora, mel = user_in_role("cora", CURATORS, is_staff=True), user_in_role("mel", ML_STAFF, is_staff=True)
    client.force_login(cora)
    client.post(PLAYGROUND, {"text": "a red circle", "model_a": "production", "count": 1})
    run_jobs()
    output = DesignOutput.objects.get(prompt__user=cora)
    client.force_login(mel)
    assert "data-output=" not in client.get(f"{PLAYGROUND}?ids={output.pk}").content.decode()
    assert client.post(reverse("admin:playground_rate", args=[output.pk]), {"rating": "5"}).status_code == 404


def test_the_playground_shares_the_apis_generation_throttle(
    client, settings, superuser, two_versions, fake_generator
):
    from django.core.cache import cache

    cache.clear()
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "generation_create": "2/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ask = {"text": "a red circle", "model_a": "production", "count": 1}
    assert [client.post(PLAYGROUND, ask).status_code for _ in range(2)] == [302, 302]
    refused = client.post(PLAYGROUND, ask)
    assert refused.status_code == 429 and "Too many design requests" in refused.content.decode()
    assert DesignOutput.objects.count() == 2
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(superuser)
    assert api.post("/api/v1/generations/", {"text": "a red circle"}, format="json").status_code == 429
