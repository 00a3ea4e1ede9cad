"""Downloads (headers), list filters and constant query counts, catalog lists, wait, throttling."""

from __future__ import annotations

import io
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from catalog.services import prompt_template_create
from generation.models import DesignOutput
from tests.api.conftest import assert_field_error, client_for, run_jobs
from tests.factories import DesignPatternFactory, StyleGuideFactory
from training.models import SLMModel

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


@pytest.fixture
def done(api, model_version, fake_generator):
    body = api.post(URL, {"text": "a red circle"}, format="json").json()
    run_jobs()
    return body["id"]


def test_svg_download_headers(api, done):
    response = api.get(f"{URL}{done}/designs/0/svg/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    assert response["Content-Disposition"] == f'attachment; filename="design-{done[:8]}-0.svg"'
    assert response.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
    inline = api.get(f"{URL}{done}/designs/0/svg/?disposition=inline")
    assert inline["Content-Disposition"].startswith("inline;")


def test_svg_download_answers_whatever_accept_says(api, done):
    assert api.get(f"{URL}{done}/designs/0/svg/", HTTP_ACCEPT="image/svg+xml").status_code == 200
    missing = api.get(f"{URL}{done}/designs/5/svg/", HTTP_ACCEPT="image/svg+xml")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "design_not_found"


def test_png_download(api, done):
    response = api.get(f"{URL}{done}/designs/0/png/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'attachment; filename="design-{done[:8]}-0.png"'
    assert Image.open(io.BytesIO(response.content)).size == (512, 512)


def _make_generations(api, n: int) -> None:
    for i in range(n):
        api.post(URL, {"text": f"a red circle {i}", "count": 2, "temperature": 0.5}, format="json")
    run_jobs()


def test_list_query_count_is_constant(api, model_version, fake_generator):
    _make_generations(api, 1)
    with CaptureQueriesContext(connection) as one:
        assert api.get(URL).json()["count"] == 1
    _make_generations(api, 6)
    with CaptureQueriesContext(connection) as many:
        body = api.get(URL).json()
    assert body["count"] == 7 and all(len(r["designs"]) == 2 for r in body["results"])
    assert len(many) == len(one), "\n".join(q["sql"][:150] for q in many.captured_queries)


def test_catalog_list_query_counts_are_constant(api, model_version):
    def counts() -> list[int]:
        out = []
        for url in ("/api/v1/style-guides/", "/api/v1/patterns/", "/api/v1/templates/", "/api/v1/models/"):
            with CaptureQueriesContext(connection) as ctx:
                assert api.get(url).status_code == 200
            out.append(len(ctx))
        return out

    def add(i: int) -> None:
        guide = StyleGuideFactory(is_published=True)
        DesignPatternFactory(is_published=True, style_guide=guide)
        prompt_template_create(name=f"tpl-{i}", content="a {{ x }}", is_public=True)
        SLMModel.objects.create(model_name="other", version=i + 1)

    add(0)
    few = counts()
    for i in range(1, 5):
        add(i)
    assert counts() == few


def test_list_filters(api, owner, model_version, fake_generator):
    template = prompt_template_create(name="tpl", content="a {{ c }} circle", is_public=True)
    v2 = SLMModel.objects.create(model_name="atelier-slm", version=2)
    a = api.post(URL, {"text": "plain"}, format="json").json()
    b = api.post(URL, {"template": "tpl", "variables": {"c": "red"}}, format="json").json()
    c = api.post(URL, {"text": "newer model", "model": "atelier-slm:2"}, format="json").json()
    run_jobs()
    DesignOutput.objects.filter(pk=a["id"]).update(created_at=timezone.now() - timezone.timedelta(days=3))

    def ids(query: str) -> set[str]:
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids("status=completed") == {a["id"], b["id"], c["id"]}
    assert ids("status=failed") == set()
    assert ids(f"template={template.pk}") == {b["id"]} == ids("template=tpl")
    assert ids(f"template_version={template.versions.get().pk}") == {b["id"]}
    assert ids(f"model_version={v2.pk}") == {c["id"]}
    since = (timezone.now() - timezone.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"created_after={since}") == {b["id"], c["id"]}
    assert ids(f"created_before={since}") == {a["id"]}
    assert_field_error(api.get(f"{URL}?status=sideways"), "status")
    # The API keeps its word for a job being worked on: `processing` (stored as the job vocabulary's
    # `running`), in the filter and in the answer.
    DesignOutput.objects.filter(pk=a["id"]).update(status="running")
    assert ids("status=processing") == {a["id"]}
    assert api.get(f"{URL}{a['id']}/").json()["status"] == "processing"


def test_catalog_lists_show_only_published_and_public(api, model_version):
    shown = StyleGuideFactory(is_published=True, guide_name="Shown")
    StyleGuideFactory(is_published=False, guide_name="Hidden")
    DesignPatternFactory(is_published=True, pattern_name="P1", style_guide=shown)
    DesignPatternFactory(is_published=False, pattern_name="P2")
    public = prompt_template_create(name="public-one", content="a {{ x }}", is_public=True)
    prompt_template_create(name="private-one", content="b", is_public=False)
    assert [g["name"] for g in api.get("/api/v1/style-guides/").json()["results"]] == ["Shown"]
    assert [p["name"] for p in api.get("/api/v1/patterns/").json()["results"]] == ["P1"]
    [tpl] = api.get("/api/v1/templates/").json()["results"]
    assert tpl["name"] == "public-one" and tpl["latest_version"] == 1
    assert {label["name"] for label in tpl["labels"]} == {"latest", "production"}
    assert tpl["versions"][0]["id"] == str(public.versions.get().pk) and tpl["versions"][0]["variables"] == [
        "x"
    ]
    [model] = api.get("/api/v1/models/").json()["results"]
    assert model["id"] == str(model_version.pk) and model["aliases"] == ["production"]


def test_wait_without_a_worker_answers_202_after_the_wait(api, model_version):
    t0 = time.monotonic()
    response = api.post(f"{URL}?wait=1", {"text": "x"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert 0.9 <= time.monotonic() - t0 < 5


def test_wait_is_validated(api, model_version):
    response = api.post(f"{URL}?wait=soon", {"text": "x"}, format="json")
    assert_field_error(response, "wait")


def test_throttling_answers_429_in_the_error_shape(owner, model_version, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "3/minute"}}
    client = client_for(owner)
    assert [client.get("/api/v1/models/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/models/")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response
    # Per user: somebody else is not throttled.
    from tests.factories import UserFactory

    assert client_for(UserFactory()).get("/api/v1/models/").status_code == 200


def test_generation_create_has_its_own_rate(api, model_version, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100/minute", "generation_create": "2/minute"},
    }
    codes = [api.post(URL, {"text": "x"}, format="json").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert api.get(URL).status_code == 200


def test_a_png_asked_for_before_the_worker_stored_it_is_rendered_then_kept(api, done):
    from generation.models import OutputImage

    OutputImage.objects.filter(output_id=done, file_type="png").delete()  # as just after completion
    detail = api.get(f"{URL}{done}/").json()
    assert detail["designs"][0]["png_url"].endswith("/designs/0/png/")  # every design has one
    first = api.get(f"{URL}{done}/designs/0/png/")
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(first.content)).size == (512, 512)
    [png] = OutputImage.objects.filter(output_id=done, file_type="png")
    second = api.get(f"{URL}{done}/designs/0/png/")
    assert second.content == first.content
    assert OutputImage.objects.filter(output_id=done, file_type="png").get().pk == png.pk
    assert api.get(f"{URL}{done}/designs/1/png/").status_code == 404  # no such design


def test_a_png_that_cannot_be_rendered_answers_503_and_keeps_the_svg(api, done, monkeypatch):
    from core.svg import SvgError
    from generation.models import OutputImage
    from generation.services import renders

    OutputImage.objects.filter(output_id=done, file_type="png").delete()

    def broken(*args, **kwargs):
        raise SvgError("Rendering took longer than 10 s and was stopped.")

    monkeypatch.setattr(renders, "render_png", broken)
    response = api.get(f"{URL}{done}/designs/0/png/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "render_unavailable"
    assert not OutputImage.objects.filter(output_id=done, file_type="png").exists()
    assert api.get(f"{URL}{done}/designs/0/svg/").status_code == 200


def test_a_message_delivered_again_after_completion_only_restores_missing_pngs(api, done, fake_generator):
    from generation.models import OutputImage
    from generation.tasks import generate

    OutputImage.objects.filter(output_id=done, file_type="png").delete()  # killed after completing
    calls = len(fake_generator.calls)
    generate(done)
    assert len(fake_generator.calls) == calls  # no second decode
    assert OutputImage.objects.filter(output_id=done, file_type="png").count() == 1
    assert DesignOutput.objects.get(pk=done).attempts == 1


def test_api_generations_leave_the_audit_trail_to_the_request_log(api, done):
    from auditlog.models import LogEntry

    from generation.models import ApiRequest, OutputImage, Prompt

    for model in (Prompt, DesignOutput, OutputImage):
        for row in model.objects.all():
            assert not LogEntry.objects.get_for_object(row).exists(), model
    logged = ApiRequest.objects.filter(endpoint=URL, method="POST").get()
    assert logged.prompt_id == DesignOutput.objects.get(pk=done).prompt_id and logged.user is not None
