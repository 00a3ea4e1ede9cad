"""End to end through the broker: the API enqueues after commit, the stub worker runs the actor."""

from __future__ import annotations

import pytest

from generation.models import DesignOutput
from generation.tasks import generate

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/generations/"


@pytest.fixture(autouse=True)
def _quiet_worker(stub_broker, stub_worker):
    """Let the worker finish before the database is flushed, whatever the test asserted."""
    yield
    stub_broker.join(generate.queue_name)
    stub_worker.join()


def test_worker_completes_a_request_with_the_fake_generator(
    api, model_version, fake_generator, stub_broker, stub_worker
):
    body = api.post(
        URL, {"text": "a large red circle at the center", "count": 2, "temperature": 0.7}, format="json"
    ).json()
    assert body["status"] in ("pending", "processing", "completed")  # the worker may already have it
    stub_broker.join(generate.queue_name)
    stub_worker.join()
    detail = api.get(body["url"]).json()
    assert detail["status"] == "completed", detail
    assert len(detail["designs"]) == 2 and len(fake_generator.calls) == 1
    svg = api.get(detail["designs"][1]["svg_url"])
    assert svg.status_code == 200 and b"<circle" in svg.content


def test_wait_answers_200_with_the_result(api, model_version, fake_generator, stub_worker):
    response = api.post(f"{URL}?wait=30", {"text": "a small blue square at the top left"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed" and len(body["designs"]) == 1
    assert body["designs"][0]["png_url"]


def test_wait_answers_with_what_the_worker_committed_without_reading_it_back(
    api, model_version, fake_generator, stub_worker, monkeypatch
):
    """An in-process worker hands its waiter the committed row and designs: the answer is what a
    fresh read gives, and the waiter does not read them back."""
    from generation import selectors

    refreshed = []
    real_refresh = selectors.generation_refresh
    monkeypatch.setattr(
        selectors, "generation_refresh", lambda **kw: refreshed.append(kw) or real_refresh(**kw)
    )
    response = api.post(
        f"{URL}?wait=30", {"text": "a red circle", "count": 2, "temperature": 0.7}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed" and body["attempts"] == 1 and len(body["designs"]) == 2
    assert refreshed == []
    assert api.get(body["url"]).json() == body


def test_wait_in_the_body_too(api, model_version, fake_generator, stub_worker):
    response = api.post(URL, {"text": "a red circle", "wait": 30}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "completed"


def test_a_second_delivery_does_not_generate_twice(
    api, model_version, fake_generator, stub_broker, stub_worker
):
    body = api.post(URL, {"text": "a red circle"}, format="json").json()
    generate.send(body["id"])
    stub_broker.join(generate.queue_name)
    stub_worker.join()
    assert len(fake_generator.calls) == 1
    output = DesignOutput.objects.get(pk=body["id"])
    assert output.status == "completed" and output.attempts == 1
