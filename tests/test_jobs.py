"""Job rows are the source of truth: lost messages are re-sent, live work is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.jobs.lifecycle import PROCESS_STARTED
from core.jobs.recovery import resend_lost_jobs
from training.models import ImportBatch, TrainingRun
from training.services.imports import import_batch_create

pytestmark = pytest.mark.django_db


def _queued(broker, queue: str) -> list[str]:
    from dramatiq import Message

    if queue not in broker.queues:
        return []
    return [Message.decode(raw).args[0] for raw in list(broker.queues[queue].queue)]


def test_embedded_broker_restart_resends_every_unfinished_job(stub_broker):
    pending = import_batch_create(
        source_name="a.jsonl", source_path="/nowhere/a.jsonl", format="jsonl", enqueue=False
    )
    running = import_batch_create(
        source_name="b.jsonl", source_path="/nowhere/b.jsonl", format="jsonl", enqueue=False
    )
    # Claimed by the worker of the process that died: its heartbeat stopped before this process started.
    ImportBatch.objects.filter(pk=running.pk).update(
        status="running", attempts=1, heartbeat_at=PROCESS_STARTED - timedelta(seconds=1)
    )
    done = import_batch_create(
        source_name="c.jsonl", source_path="/nowhere/c.jsonl", format="jsonl", enqueue=False
    )
    ImportBatch.objects.filter(pk=done.pk).update(status="completed")
    # The in-process broker lost its queue with the process: at boot, every unfinished row is re-sent.
    counts = resend_lost_jobs(everything=True)
    assert counts["importbatch"] == 2
    assert sorted(_queued(stub_broker, "imports")) == sorted([str(pending.pk), str(running.pk)])
    # The running one was handed back to pending, so the next worker claims it.
    assert ImportBatch.objects.get(pk=running.pk).status == "pending"


def test_periodic_reaper_leaves_live_and_recent_jobs_alone(stub_broker):
    from tests.factories import make_graph

    run = TrainingRun.objects.get(pk=make_graph(0)["dataset"].training_runs.get().pk)
    TrainingRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now())
    fresh = import_batch_create(
        source_name="f.jsonl", source_path="/nowhere/f.jsonl", format="jsonl", enqueue=False
    )
    counts = resend_lost_jobs(everything=False)
    assert counts["trainingrun"] == 0 and counts["importbatch"] == 0
    assert _queued(stub_broker, "training") == [] and _queued(stub_broker, "imports") == []
    # A heartbeat that stopped a minute ago means the worker died: re-sent.
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=2))
    ImportBatch.objects.filter(pk=fresh.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    counts = resend_lost_jobs(everything=False)
    assert counts["trainingrun"] == 1 and counts["importbatch"] == 1
    assert _queued(stub_broker, "training") == [str(run.pk)]
