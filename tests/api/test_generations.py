"""Creating generations: validation, the job, best-of-N in one pass, batching, styles, failures."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.files.storage import default_storage

from catalog.models import PromptTemplateVersion
from catalog.services import (
    prompt_template_create,
    prompt_template_label_move,
    prompt_template_version_create,
)
from generation import engine
from generation.models import DesignOutput, OutputImage, Prompt
from generation.services.jobs import MASKED_ERROR
from generation.tasks import generate
from tests.api.conftest import CIRCLE, HOSTILE, assert_field_error, run_jobs
from tests.factories import StyleGuideFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def test_create_answers_202_then_the_job_completes_it(api, model_version, fake_generator):
    response = api.post(URL, {"text": "a large red circle at the center", "seed": 7}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert response["Location"] == body["url"] and body["url"].endswith(f"/api/v1/generations/{body['id']}/")
    run_jobs()
    detail = api.get(body["url"]).json()
    assert detail["status"] == "completed"
    assert detail["error"] is None
    assert detail["model_version"] == {"id": str(model_version.pk), "name": "atelier-slm", "version": 1}
    assert detail["timings"]["processing_time_ms"] is not None
    [design] = detail["designs"]
    assert design["sequence_order"] == 0
    assert design["svg_url"].endswith("/designs/0/svg/") and design["png_url"].endswith("/designs/0/png/")
    assert design["style_attributes"]["colours"] == ["#e53935"]
    assert design["style_attributes"]["element_counts"] == {"circle": 1, "svg": 1}
    meta = detail["design_metadata"]
    assert meta["seed"] == 7 and meta["temperature"] == 0.0 and meta["candidates_tried"] == 1
    assert meta["model_version"]["id"] == str(model_version.pk)
    assert meta["tokens"]["generated"] > 0
    assert Prompt.objects.get().status == "completed"
    assert OutputImage.objects.count() == 2  # one SVG and one PNG


def test_best_of_n_is_one_generate_call(api, model_version, fake_generator):
    fake_generator.make = lambda p, i: (
        "not svg" if i == 0 else CIRCLE.format(r=8 + 4 * (i // 2), fill="#1e88e5")
    )
    response = api.post(
        URL, {"text": "three blue circles", "count": 3, "temperature": 0.9, "seed": 1}, format="json"
    )
    run_jobs()
    assert len(fake_generator.calls) == 1
    call = fake_generator.calls[0]
    assert call["n"] == 6 and call["prompts"] == ["three blue circles"] and call["temperature"] == 0.9
    detail = api.get(response.json()["url"]).json()
    assert [d["sequence_order"] for d in detail["designs"]] == [0, 1, 2]
    reasons = [d["reason"] for d in detail["design_metadata"]["candidates_dropped"]]
    assert any(r.startswith("invalid SVG") for r in reasons)
    assert any(r.startswith("duplicate") for r in reasons)


@pytest.mark.django_db(transaction=True)
def test_requests_arriving_while_the_model_decodes_join_its_next_step(api, model_version, fake_generator):
    """Worker threads hand their requests to one decode loop per model: three requests, the second and
    third sent while the first is in the model, take two forward passes, not three."""
    first_in_model, release = threading.Event(), threading.Event()
    make = fake_generator.make

    def slow_first(prompt: str, i: int) -> str:
        if not first_in_model.is_set():
            first_in_model.set()
            assert release.wait(10)
        return make(prompt, i)

    fake_generator.make = slow_first
    ids = [
        api.post(URL, {"text": f"a small red circle at the top {i}", "seed": i}, format="json").json()["id"]
        for i in range(3)
    ]
    threads = [threading.Thread(target=_run_actor, args=(pk,)) for pk in ids]
    threads[0].start()
    assert first_in_model.wait(10)
    for t in threads[1:]:
        t.start()
    engine_queue = engine.get_scheduler(model_version)._waiting
    deadline = time.monotonic() + 10
    while len(engine_queue) < 2 and time.monotonic() < deadline:  # both wait for the next step
        time.sleep(0.01)
    assert len(engine_queue) == 2, "the second and third requests never reached the decode loop"
    release.set()
    for t in threads:
        t.join(10)
    assert [len(c["prompts"]) for c in fake_generator.calls] == [1, 2]
    assert set(DesignOutput.objects.values_list("status", flat=True)) == {"completed"}
    sizes = {str(o.pk): o.design_metadata["batch"]["size"] for o in DesignOutput.objects.all()}
    assert sizes[ids[0]] == 1 and sizes[ids[1]] == sizes[ids[2]] == 2
    generate(ids[1])  # its message delivered again: nothing to do
    assert len(fake_generator.calls) == 2 and DesignOutput.objects.get(pk=ids[1]).attempts == 1


def _run_actor(pk: str) -> None:
    from django.db import connection

    try:
        generate(pk)
    finally:
        connection.close()


def test_hostile_model_output_is_sanitised_before_storage(api, model_version, fake_generator):
    fake_generator.make = lambda p, i: HOSTILE
    body = api.post(URL, {"text": "anything"}, format="json").json()
    run_jobs()
    output = DesignOutput.objects.get(pk=body["id"])
    assert output.status == "completed"
    svg = output.images.get(file_type="svg")
    stored = default_storage.open(svg.file.name).read().decode()
    for bad in ("script", "onload", "onclick", "javascript", "foreignObject", "evil.example", "cookie"):
        assert bad not in stored
    assert "<circle" in stored and "<rect" in stored
    removed = svg.style_attributes["sanitiser_removed"]
    assert any("script" in r for r in removed) and any("onload" in r for r in removed)
    served = api.get(f"{URL}{body['id']}/designs/0/svg/").content.decode()
    assert "script" not in served and "onload" not in served


def test_no_valid_candidate_fails_with_a_clear_message(api, model_version, fake_generator):
    fake_generator.make = lambda p, i: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"></svg>'
    body = api.post(URL, {"text": "nothing"}, format="json").json()
    run_jobs()
    detail = api.get(body["url"]).json()
    assert detail["status"] == "failed"
    assert detail["error"].startswith("The model produced no usable design (1 candidate(s): invalid SVG")
    assert detail["designs"] == []


def test_internal_errors_are_masked_and_logged(api, model_version, monkeypatch, caplog):
    from generation import engine

    class Broken:
        def generate(self, *a, **k):
            raise RuntimeError("CUDA out of memory at /srv/secret/path")

    monkeypatch.setattr(engine, "get_generator", lambda model: Broken())
    body = api.post(URL, {"text": "a red circle"}, format="json").json()
    run_jobs()
    detail = api.get(body["url"]).json()
    assert detail["status"] == "failed"
    assert detail["error"] == MASKED_ERROR
    assert "secret" not in str(detail)
    assert "/srv/secret/path" in caplog.text  # the full error is in the log


NO_ID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({}, "text", "validation_error"),
        ({"text": "x", "count": 9}, "count", "validation_error"),
        ({"text": "x", "count": 0}, "count", "validation_error"),
        ({"text": "x", "temperature": 3}, "temperature", "validation_error"),
        ({"text": "x", "template": "t"}, "template", "validation_error"),
        ({"text": "x", "model": "no-such-model"}, "model", "unknown_model"),
        ({"text": "x", "style_guide": NO_ID}, "style_guide", "unknown_style_guide"),
        ({"text": "x", "conversation": NO_ID}, "conversation", "unknown_conversation"),
        ({"template": "missing"}, "template", "unknown_template"),
        ({"text": "x", "variables": [1, 2]}, "variables", "validation_error"),
    ],
)
def test_invalid_requests_answer_400_with_field_messages(api, model_version, payload, field, code):
    assert_field_error(api.post(URL, payload, format="json"), field, code=code)
    assert not Prompt.all_objects.exists()


def test_template_by_name_uses_production_and_counts_usage(api, model_version, fake_generator, owner):
    template = prompt_template_create(
        name="badge", content="a {{ size }} {{ colour }} circle", is_public=True
    )
    v1 = template.versions.get()
    v2 = prompt_template_version_create(template=template, content="two {{ size }} {{ colour }} squares")
    body = api.post(
        URL, {"template": "badge", "variables": {"size": "large", "colour": "red"}}, format="json"
    ).json()
    assert body["prompt"]["text"] == "a large red circle"  # production is still v1
    assert body["prompt"]["template"]["version"] == 1
    prompt_template_label_move(template=template, name="production", version=v2)
    api.post(URL, {"template": "badge", "variables": {"size": "small", "colour": "blue"}}, format="json")
    api.post(
        URL, {"template_version": str(v2.pk), "variables": {"size": "small", "colour": "blue"}}, format="json"
    )
    assert PromptTemplateVersion.objects.get(pk=v1.pk).usage_count == 1
    assert PromptTemplateVersion.objects.get(pk=v2.pk).usage_count == 2
    missing = api.post(URL, {"template": "badge", "variables": {"size": "small"}}, format="json")
    assert_field_error(missing, "variables", "Missing template variables: colour")


def test_private_templates_of_others_are_not_usable(api, model_version, other):
    template = prompt_template_create(
        name="secret", content="a red circle", is_public=False, created_by=other
    )
    response = api.post(URL, {"template_version": str(template.versions.get().pk)}, format="json")
    assert_field_error(response, "template_version", "No such template version.", "unknown_template_version")


def test_style_guide_recolours_and_sets_strokes(api, model_version, fake_generator):
    guide = StyleGuideFactory(
        is_published=True,
        style_rules={
            "palette": ["#000000", "#ffffff"],
            "stroke_width": 3,
            "line_cap": "round",
            "fill_mode": "outline",
        },
    )
    body = api.post(URL, {"text": "a red circle", "style_guide": str(guide.pk)}, format="json").json()
    run_jobs()
    detail = api.get(body["url"]).json()
    assert fake_generator.calls[0]["context"].startswith(f"style {guide.guide_name.lower()}")
    applied = detail["design_metadata"]["palette_applied"]
    assert applied["source"] == "style_guide" and applied["colours"] == ["#000000", "#ffffff"]
    attrs = detail["designs"][0]["style_attributes"]
    assert attrs["style_applied"]["recoloured"] == {"#e53935": "#000000"}
    assert attrs["style_violations"] == []
    svg = api.get(detail["designs"][0]["svg_url"]).content.decode()
    assert 'fill="none"' in svg and 'stroke="#000000"' in svg and 'stroke-width="3"' in svg


def test_unpublished_style_guide_is_refused(api, model_version):
    guide = StyleGuideFactory(is_published=False)
    response = api.post(URL, {"text": "x", "style_guide": str(guide.pk)}, format="json")
    assert_field_error(response, "style_guide", "No such published style guide.", "unknown_style_guide")


def test_conversation_carries_style_guide_palette_and_template(api, model_version, fake_generator):
    guide = StyleGuideFactory(is_published=True, style_rules={"palette": ["#1e88e5"]})
    template = prompt_template_create(name="shape", content="a {{ colour }} {{ shape }}", is_public=True)
    conv = api.post("/api/v1/conversations/", {"title": "logo ideas"}, format="json").json()
    first = api.post(
        URL,
        {
            "conversation": conv["id"],
            "style_guide": str(guide.pk),
            "template": "shape",
            "variables": {"colour": "red", "shape": "circle"},
        },
        format="json",
    ).json()
    assert first["prompt"]["text"] == "a red circle"
    # Next prompt: only new variables; the template and style guide come from the conversation.
    second = api.post(
        URL, {"conversation": conv["id"], "variables": {"colour": "blue", "shape": "star"}}, format="json"
    ).json()
    assert second["prompt"]["text"] == "a blue star"
    assert second["prompt"]["style_guide"]["id"] == str(guide.pk)
    third = api.post(URL, {"conversation": conv["id"]}, format="json").json()
    assert third["prompt"]["text"] == "a blue star"  # same template, same variables
    run_jobs()
    assert DesignOutput.objects.get(pk=second["id"]).design_metadata["palette_applied"]["colours"] == [
        "#1e88e5"
    ]
    state = api.get(f"/api/v1/conversations/{conv['id']}/").json()
    assert state["total_messages"] == 3
    assert state["context"]["style_guide_id"] == str(guide.pk)
    assert state["context"]["palette"] == ["#1e88e5"]
    assert state["context"]["template_version_id"] == str(template.versions.get().pk)
    assert state["context"]["last_output_id"] == third["id"]
    assert Prompt.objects.get(pk=second["prompt"]["id"]).metadata["carried_from_conversation"] == [
        "style_guide",
        "template",
    ]


def test_another_users_conversation_is_refused(api, model_version, other):
    from generation.services.conversations import conversation_create

    conv = conversation_create(user=other, title="theirs")
    response = api.post(URL, {"text": "x", "conversation": str(conv.pk)}, format="json")
    assert_field_error(response, "conversation", "No such active conversation.", "unknown_conversation")


def test_a_consensus_model_samples_its_candidates_and_keeps_the_one_most_like_the_others(
    api, model_version, fake_generator
):
    # A model registered with `decoding.consensus` (small real icon sets): even at temperature 0 its
    # request samples k candidates at the model's temperature, and the design is the candidate whose
    # rendering agrees most with the others (here the middle one of three concentric circles, not the
    # first, which is an outlier in the corner).
    model_version.model_config = {"decoding": {"consensus": 4, "temperature": 1.0}}
    model_version.save()
    outlier = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">'
        '<circle cx="10" cy="10" r="8" fill="#e53935"/></svg>'
    )
    radii = {1: 20, 2: 24, 3: 28}
    fake_generator.make = lambda p, i: outlier if i == 0 else CIRCLE.format(r=radii[i], fill="#e53935")
    response = api.post(URL, {"text": "a red circle", "seed": 3}, format="json")
    run_jobs()
    [call] = fake_generator.calls
    assert call["n"] == 4 and call["temperature"] == 1.0 and call["seed"] == 3
    detail = api.get(response.json()["url"]).json()
    assert detail["status"] == "completed", detail
    meta = detail["design_metadata"]
    assert meta["chosen_by"] == "consensus" and meta["candidates_tried"] == 4
    assert meta["temperature"] == 0.0  # what was asked; the sampling temperature is the model's
    [design] = detail["designs"]
    svg = default_storage.open(
        OutputImage.objects.get(output_id=detail["id"], file_type="svg").file.name
    ).read()
    assert b'r="24"' in svg, svg
    assert design["sequence_order"] == 0


def test_a_greedy_model_keeps_generation_order(api, model_version, fake_generator):
    response = api.post(URL, {"text": "a red circle", "seed": 3}, format="json")
    run_jobs()
    assert fake_generator.calls[0]["n"] == 1 and fake_generator.calls[0]["temperature"] == 0.0
    assert api.get(response.json()["url"]).json()["design_metadata"]["chosen_by"] == "order"


def _one_design_per_call(fake_generator):
    """A confident model: every candidate of a call is the same design, each call (seed) another."""
    fake_generator.make = lambda p, i: CIRCLE.format(r=8 + 4 * len(fake_generator.calls), fill="#1e88e5")


def test_too_few_distinct_candidates_draw_more_until_count_is_met(api, model_version, fake_generator):
    _one_design_per_call(fake_generator)
    response = api.post(
        URL, {"text": "blue circles", "count": 2, "temperature": 0.8, "seed": 5}, format="json"
    )
    run_jobs()
    detail = api.get(response.json()["url"]).json()
    assert detail["status"] == "completed", detail
    assert [d["sequence_order"] for d in detail["designs"]] == [0, 1]
    assert detail["designs_short_by"] is None
    seeds = [c["seed"] for c in fake_generator.calls]
    assert len(seeds) == 2 and seeds[0] == 5 and seeds[1] != 5  # one extra draw, with a seed of its own
    meta = detail["design_metadata"]
    assert meta["candidates_tried"] == 4 + 2 and len(meta["extra_draws"]) == 1
    assert api.get(detail["designs"][1]["svg_url"]).status_code == 200


def test_a_request_still_short_after_its_extra_draws_says_so(api, model_version, fake_generator, settings):
    settings.GENERATION_EXTRA_DRAWS = 2
    fake_generator.make = lambda p, i: CIRCLE.format(r=20, fill="#1e88e5")  # the same design, always
    response = api.post(URL, {"text": "blue circles", "count": 3, "temperature": 0.8}, format="json")
    run_jobs()
    detail = api.get(response.json()["url"]).json()
    assert detail["status"] == "completed", detail
    assert len(detail["designs"]) == 1 and len(fake_generator.calls) == 1 + 2  # bounded
    short = detail["designs_short_by"]
    assert short["count"] == 2
    assert "1 distinct usable design(s) of the 3" in short["reason"] and "duplicate" in short["reason"]
    assert api.get(f"{URL}{detail['id']}/designs/1/svg/").status_code == 404


def test_greedy_requests_are_not_drawn_again_and_say_why_they_are_short(api, model_version, fake_generator):
    response = api.post(URL, {"text": "a circle", "count": 2, "temperature": 0}, format="json")
    run_jobs()
    detail = api.get(response.json()["url"]).json()
    assert len(fake_generator.calls) == 1 and len(detail["designs"]) == 1
    assert detail["designs_short_by"]["count"] == 1
    assert detail["designs_short_by"]["reason"].startswith("Temperature 0 is deterministic")


def test_the_schema_describes_designs_short_by(api):
    schema = api.get("/api/schema/?format=json").json()
    field = schema["components"]["schemas"]["Generation"]["properties"]["designs_short_by"]
    assert field.get("nullable") or any(s.get("type") == "null" for s in field.get("oneOf", [])), field
