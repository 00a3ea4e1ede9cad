"""core.jobs on its own: the claim, the one attempts budget, finishing only what is still ours, handing
back, the heartbeat, reaping, and the actor's hooks (a generation's prompt mirrors its status)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.jobs import heartbeat
from core.jobs.actor import job_run
from core.jobs.lifecycle import job_claim, job_finish, job_reap, job_release
from core.jobs.models import JobStatus
from generation.models import DesignOutput, Prompt
from tests.factories import UserFactory
from training.models import ImportBatch

pytestmark = pytest.mark.django_db


def _batch(**fields) -> ImportBatch:
    return ImportBatch.objects.create(source_name="a.jsonl", format="jsonl", **fields)


def _request() -> DesignOutput:
    prompt = Prompt.objects.create(user=UserFactory(), text_content="a red circle")
    return DesignOutput.objects.create(prompt=prompt)


def test_a_claim_takes_a_pending_row_once():
    batch = _batch()
    claimed = job_claim(ImportBatch, batch.pk)
    assert claimed is not None and claimed.status == JobStatus.RUNNING and claimed.attempts == 1
    assert claimed.worker_id and claimed.heartbeat_at and claimed.started_at
    assert job_claim(ImportBatch, batch.pk) is None  # a live worker holds it: a second delivery waits


def test_a_stale_claim_is_taken_again_and_counts_an_attempt(settings):
    batch = _batch(status=JobStatus.RUNNING, attempts=1, worker_id="dead:1:1")
    stale = timezone.now() - timedelta(seconds=settings.JOB_CLAIM_TTL_SECONDS + 1)
    ImportBatch.objects.filter(pk=batch.pk).update(heartbeat_at=stale)
    claimed = job_claim(ImportBatch, batch.pk)
    assert claimed is not None and claimed.attempts == 2 and claimed.worker_id != "dead:1:1"


def test_finished_rows_and_spent_budgets_are_never_run(settings):
    done = _batch(status=JobStatus.COMPLETED)
    assert job_claim(ImportBatch, done.pk) is None
    spent = _batch(attempts=settings.JOB_MAX_ATTEMPTS)
    assert job_claim(ImportBatch, spent.pk) is None
    spent.refresh_from_db()
    assert spent.status == JobStatus.FAILED and spent.error_message == ImportBatch.exhausted_message
    assert spent.finished_at is not None


def test_finish_writes_only_a_row_this_claim_still_holds():
    batch = _batch()
    claimed = job_claim(ImportBatch, batch.pk)
    ImportBatch.objects.filter(pk=batch.pk).update(worker_id="someone-else")  # reaped and re-claimed
    assert not job_finish(claimed, JobStatus.COMPLETED, rows_read=5)
    assert ImportBatch.objects.get(pk=batch.pk).status == JobStatus.RUNNING
    ImportBatch.objects.filter(pk=batch.pk).update(worker_id=claimed.worker_id)
    assert job_finish(claimed, JobStatus.FAILED, error="boom", rows_read=5)
    row = ImportBatch.objects.get(pk=batch.pk)
    assert (row.status, row.error_message, row.rows_read) == (JobStatus.FAILED, "boom", 5)
    assert row.finished_at is not None and claimed.status == JobStatus.FAILED


def test_an_interrupted_claim_is_handed_back_until_its_attempts_are_spent(settings):
    batch = _batch()
    for attempt in range(1, settings.JOB_MAX_ATTEMPTS + 1):
        claimed = job_claim(ImportBatch, batch.pk)
        assert claimed is not None and claimed.attempts == attempt
        job_release(claimed)
    row = ImportBatch.objects.get(pk=batch.pk)
    assert row.status == JobStatus.FAILED and row.attempts == settings.JOB_MAX_ATTEMPTS


def test_job_run_hands_the_row_back_when_the_work_raises():
    batch = _batch()

    def broken(job: ImportBatch) -> None:
        raise RuntimeError("worker interrupted")

    with pytest.raises(RuntimeError):
        job_run(ImportBatch, batch.pk, broken)
    row = ImportBatch.objects.get(pk=batch.pk)
    assert row.status == JobStatus.PENDING and row.attempts == 1 and row.worker_id == ""


def test_the_heartbeat_keeps_claims_alive_and_the_reaper_away(settings):
    batch = _batch()
    claimed = job_claim(ImportBatch, batch.pk)
    old = timezone.now() - timedelta(hours=1)
    ImportBatch.objects.filter(pk=batch.pk).update(heartbeat_at=old)
    with heartbeat.beating(claimed):
        # Running here: never reaped, whatever its heartbeat says.
        assert job_reap(ImportBatch, older_than=timedelta(seconds=1)).requeued == []
        assert heartbeat.beat() == 1
        assert ImportBatch.objects.get(pk=batch.pk).heartbeat_at > old
    assert heartbeat.held_here(ImportBatch) == set()
    ImportBatch.objects.filter(pk=batch.pk).update(heartbeat_at=old)
    assert heartbeat.beat() == 0  # no longer held: nothing beats it
    assert job_reap(ImportBatch, older_than=timedelta(seconds=1)).requeued == [str(batch.pk)]
    assert ImportBatch.objects.get(pk=batch.pk).status == JobStatus.PENDING


def test_a_generations_prompt_mirrors_every_state_its_job_takes():
    from generation.tasks import generate  # noqa: F401 - declares the generation kind and its hooks

    output = _request()
    claimed = job_claim(DesignOutput, output.pk)
    assert Prompt.all_objects.get(pk=output.prompt_id).status == JobStatus.RUNNING
    job_release(claimed)
    assert Prompt.all_objects.get(pk=output.prompt_id).status == JobStatus.PENDING
    claimed = job_claim(DesignOutput, output.pk)
    job_finish(claimed, JobStatus.FAILED, error="x")
    assert Prompt.all_objects.get(pk=output.prompt_id).status == JobStatus.FAILED


def test_a_completed_generation_delivered_again_only_repairs(monkeypatch):
    from generation import tasks

    output = _request()
    DesignOutput.objects.filter(pk=output.pk).update(status=JobStatus.COMPLETED)
    repaired = []
    monkeypatch.setattr(tasks, "output_pngs_render", lambda *, output_id: repaired.append(output_id))
    tasks.generate(str(output.pk))
    assert repaired == [str(output.pk)]
    assert DesignOutput.objects.get(pk=output.pk).attempts == 0
