"""The API request log (secrets stripped, capped), retention purges, and the stale-job reaper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from core.jobs.lifecycle import PROCESS_STARTED, job_reap
from core.jobs.recovery import resend_lost_jobs
from feedback.models import Promotion
from generation.models import ApiRequest, DesignOutput, InputImage, OutputImage, Prompt
from generation.retention import retention_purge
from tests.api.conftest import png_bytes, run_jobs
from tests.factories import TrainingExampleFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def test_every_call_is_logged_with_secrets_and_files_left_out(api, owner, model_version):
    image = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
    response = api.post(
        f"{URL}?wait=0&token=querysecret",
        {"text": "a red circle", "password": "hunter2", "images": [image], "api_key": "k-123"},
        format="multipart",
    )
    assert response.status_code == 202
    row = ApiRequest.objects.get()
    assert (row.user, row.method, row.endpoint, row.status_code) == (owner, "POST", URL, 202)
    assert row.prompt_id is not None and str(row.prompt_id) == response.json()["prompt"]["id"]
    assert row.duration_ms is not None and row.response_time >= row.request_time
    assert row.ip_address == "127.0.0.1"
    payload = row.request_payload
    assert payload["body"]["text"] == "a red circle"
    assert payload["body"]["password"] == "[redacted]" and payload["body"]["api_key"] == "[redacted]"
    assert payload["query"]["token"] == "[redacted]"
    assert payload["body"]["images"] == {"file": True, "size": len(png_bytes()), "content_type": "image/png"}
    text = str(payload)
    assert "hunter2" not in text and "querysecret" not in text and "k-123" not in text
    assert "PNG" not in text  # no file body
    token = owner.auth_token.key
    assert token not in str(ApiRequest.objects.values_list().get())


def test_errors_and_anonymous_calls_are_logged(model_version):
    APIClient().get("/api/v1/models/", HTTP_AUTHORIZATION="Token nope")
    APIClient().get("/api/v1/no-such-route/")
    rows = list(ApiRequest.objects.order_by("request_time"))
    assert [(r.user, r.status_code) for r in rows] == [(None, 401), (None, 404)]
    assert '"code": "authentication_failed"' in rows[0].error_detail
    assert "nope" not in str(rows[0].request_payload)


def test_payload_is_capped(api, model_version):
    api.post(URL, {"text": "x" * 3000, "variables": {f"k{i}": "v" * 500 for i in range(40)}}, format="json")
    payload = ApiRequest.objects.get().request_payload
    assert payload["truncated"] is True and len(str(payload)) < 9000


def test_schema_and_docs_calls_are_logged():
    APIClient().get("/api/schema/")
    assert ApiRequest.objects.get().endpoint == "/api/schema/"


# --- retention ---------------------------------------------------------------------------------------


def _age(output: DesignOutput, days: int) -> None:
    then = timezone.now() - timedelta(days=days)
    DesignOutput.objects.filter(pk=output.pk).update(created_at=then)
    Prompt.all_objects.filter(pk=output.prompt_id).update(created_at=then)


@pytest.fixture
def generations(api, model_version, fake_generator):
    ids = []
    for i in range(4):
        image = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
        ids.append(api.post(URL, {"text": f"design {i}", "images": [image]}, format="multipart").json()["id"])
    run_jobs()
    return [DesignOutput.objects.get(pk=pk) for pk in ids]


def test_purge_removes_old_designs_but_keeps_promoted_ones(
    generations, owner, django_capture_on_commit_callbacks
):
    old, promoted, year_old, fresh = generations
    for output in (old, promoted):
        _age(output, 800)
    _age(year_old, 400)
    Promotion.objects.create(example=TrainingExampleFactory(), output=promoted, promoted_by=owner)
    old_files = list(OutputImage.objects.filter(output=old).values_list("file", flat=True))
    old_files += list(InputImage.objects.filter(prompt=old.prompt).values_list("file", flat=True))
    year_old_input = InputImage.objects.get(prompt=year_old.prompt).file.name

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are gone
        summary = retention_purge()

    assert summary["designs"] == 1 and summary["generation_requests"] == 1
    assert not DesignOutput.objects.filter(pk=old.pk).exists()
    assert not Prompt.all_objects.filter(pk=old.prompt_id).exists()
    assert all(not default_storage.exists(name) for name in old_files)
    # Promoted: untouched, request included.
    kept = DesignOutput.objects.get(pk=promoted.pk)
    assert kept.images.count() == 2 and kept.prompt.text_content == "design 1"
    assert kept.prompt.input_images.count() == 1
    # A year old: what was asked is forgotten, the design stays.
    aged = DesignOutput.objects.get(pk=year_old.pk)
    assert aged.images.count() == 2
    assert aged.prompt.text_content == "" and "purged_at" in aged.prompt.metadata
    assert not aged.prompt.input_images.exists() and not default_storage.exists(year_old_input)
    # Fresh: untouched. A second run finds nothing more.
    assert DesignOutput.objects.get(pk=fresh.pk).prompt.text_content == "design 3"
    assert retention_purge() == {
        "designs": 0,
        "generation_requests": 0,
        "request_logs": 0,
        "error_details": 0,
        "webhooks": 0,
    }


def test_purge_request_logs_and_error_details(api, model_version, settings, caplog):
    settings.GENERATION_RETENTION_DAYS = {**settings.GENERATION_RETENTION_DAYS, "request_logs": 10}
    api.get("/api/v1/models/")
    APIClient().get("/api/v1/models/")  # a 401 with error detail
    body = api.post(URL, {"text": "x"}, format="json").json()
    DesignOutput.objects.filter(pk=body["id"]).update(
        status="failed", error_message="boom", created_at=timezone.now() - timedelta(days=40)
    )
    ApiRequest.objects.filter(status_code=200).update(request_time=timezone.now() - timedelta(days=11))
    ApiRequest.objects.filter(status_code=401).update(request_time=timezone.now() - timedelta(days=35))
    call_command("purge_expired")
    # The 200 (11 days) and 401 (35 days) are both past 10 days; the failed output's error is blanked.
    assert ApiRequest.objects.filter(status_code__in=[200, 401]).count() == 0
    assert DesignOutput.objects.get(pk=body["id"]).error_message == ""
    assert "retention summary" in caplog.text


# --- reaper ------------------------------------------------------------------------------------------


def _running(output: DesignOutput, *, attempts: int, minutes_ago: int) -> None:
    DesignOutput.objects.filter(pk=output.pk).update(
        status="running", attempts=attempts, heartbeat_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_reaper_requeues_or_fails_stale_rows(api, model_version):
    ids = [api.post(URL, {"text": f"x{i}"}, format="json").json()["id"] for i in range(3)]
    a, b, c = (DesignOutput.objects.get(pk=pk) for pk in ids)
    _running(a, attempts=1, minutes_ago=30)
    _running(b, attempts=3, minutes_ago=30)
    _running(c, attempts=1, minutes_ago=1)  # a live worker has it
    result = job_reap(DesignOutput, older_than=timedelta(minutes=10))
    assert result.requeued == [str(a.pk)] and result.failed == [str(b.pk)]
    assert DesignOutput.objects.get(pk=a.pk).status == "pending"
    failed = DesignOutput.objects.get(pk=b.pk)
    assert failed.status == "failed" and "several attempts" in failed.error_message
    assert DesignOutput.objects.get(pk=c.pk).status == "running"


def test_reap_command(api, model_version, stub_broker):
    output = DesignOutput.objects.get(pk=api.post(URL, {"text": "x"}, format="json").json()["id"])
    _running(output, attempts=1, minutes_ago=30)
    call_command("reap_stale_generations")
    assert DesignOutput.objects.get(pk=output.pk).status == "pending"
    assert stub_broker.queues["generation"].qsize() == 1


def test_worker_boot_recovery_resends_generation_jobs(api, model_version, stub_broker):
    """With the in-process broker every message was lost on restart: pending rows are sent again, and
    rows a worker of the previous process had claimed go back to pending; live claims are left alone."""
    ids = [api.post(URL, {"text": f"x{i}"}, format="json").json()["id"] for i in range(3)]
    DesignOutput.objects.filter(pk=ids[0]).update(
        status="running", attempts=1, heartbeat_at=PROCESS_STARTED - timedelta(seconds=5)
    )
    _running(DesignOutput.objects.get(pk=ids[1]), attempts=1, minutes_ago=0)
    counts = resend_lost_jobs(everything=True)
    assert counts["designoutput"] == 2
    assert DesignOutput.objects.get(pk=ids[0]).status == "pending"
    assert DesignOutput.objects.get(pk=ids[1]).status == "running"
    assert stub_broker.queues["generation"].qsize() == 2


def test_actor_exhausted_attempts_fail_instead_of_running(api, model_version, fake_generator):
    from generation.tasks import generate

    output = DesignOutput.objects.get(pk=api.post(URL, {"text": "x"}, format="json").json()["id"])
    _running(output, attempts=3, minutes_ago=30)
    generate(str(output.pk))
    assert DesignOutput.objects.get(pk=output.pk).status == "failed"
    assert fake_generator.calls == []
