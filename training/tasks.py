"""Dramatiq actors for training data jobs: thin, idempotent, ids only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dramatiq
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.jobs import RecoverableJob, register_recoverable
from training.models import Dataset, ImportBatch, JobStatus

CLAIM_TTL = timedelta(minutes=5)


@dramatiq.actor(queue_name="imports", max_retries=2, time_limit=4 * 3600 * 1000)
def run_import(batch_id: str) -> None:
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.is_terminal:
            return  # a second delivery does nothing
        if (
            batch.status == JobStatus.RUNNING
            and batch.heartbeat_at
            and batch.heartbeat_at > timezone.now() - CLAIM_TTL
        ):
            return  # a live worker has it
        # A row left `running` by a dead worker is re-run from the start: imports are idempotent.
        batch.status, batch.heartbeat_at = JobStatus.RUNNING, timezone.now()
        batch.save(update_fields=["status", "heartbeat_at", "updated_at"])
    from training.services import import_batch_run

    import_batch_run(batch_id=batch_id)


@dramatiq.actor(queue_name="imports", max_retries=3, time_limit=3600 * 1000)
def export_dataset(dataset_id: str) -> None:
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(pk=dataset_id).first()
        if dataset is None or dataset.status != Dataset.Status.PROCESSING:
            return
    from training.services import dataset_export

    dataset_export(dataset_id=dataset_id)


PENDING_LOST_AFTER = timedelta(hours=1)


def _stale(model: Any, active: Q, stamp: str, running: str = JobStatus.RUNNING) -> Any:
    """Rows to re-send: all active ones (older_than=None), else running ones whose heartbeat stopped and
    pending ones nobody touched for an hour (a broker that lost its queue)."""

    def ids(older_than: timedelta | None) -> Any:
        qs = model.objects.filter(active)
        if older_than is not None:
            now = timezone.now()
            dead = Q(status=running) & (
                Q(**{f"{stamp}__lt": now - older_than}) | Q(**{f"{stamp}__isnull": True})
            )
            forgotten = ~Q(status=running) & Q(updated_at__lt=now - PENDING_LOST_AFTER)
            qs = qs.filter(dead | forgotten)
        return [str(pk) for pk in qs.values_list("pk", flat=True)]

    return ids


register_recoverable(
    RecoverableJob(
        name="import",
        stale_ids=_stale(ImportBatch, Q(status__in=[JobStatus.PENDING, JobStatus.RUNNING]), "heartbeat_at"),
        resend=lambda pk: _reset_and_send(ImportBatch, pk, run_import),
    )
)
register_recoverable(
    RecoverableJob(
        name="dataset_export",
        stale_ids=_stale(Dataset, Q(status=Dataset.Status.PROCESSING), "updated_at", running="__never__"),
        resend=lambda pk: export_dataset.send(pk),
    )
)


def _reset_and_send(model: Any, pk: str, actor: dramatiq.Actor) -> None:
    # A killed import rolled back (or stored chunks idempotently): start it again from pending.
    model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(status=JobStatus.PENDING)
    actor.send(pk)


# ---------------------------------------------------------------- training and evaluation

RUN_CLAIM_TTL_S = 30.0  # heartbeats come every couple of seconds; 30 s of silence means the worker died


@dramatiq.actor(queue_name="training", max_retries=3, time_limit=24 * 3600 * 1000)
def train_model(run_id: str) -> None:
    from training.services import training_run_claim, training_run_execute

    if training_run_claim(run_id=run_id, claim_ttl_s=RUN_CLAIM_TTL_S) is None:
        return  # finished, or a live worker has it: a second delivery does nothing
    training_run_execute(run_id=run_id)


@dramatiq.actor(queue_name="training", max_retries=2, time_limit=3600 * 1000)
def evaluate_model(evaluation_id: str) -> None:
    from training.models import ModelEvaluation
    from training.services import model_evaluation_execute

    with transaction.atomic():
        evaluation = ModelEvaluation.objects.select_for_update().filter(pk=evaluation_id).first()
        if evaluation is None or evaluation.is_terminal:
            return
        fresh = evaluation.heartbeat_at and timezone.now() - evaluation.heartbeat_at < CLAIM_TTL
        if evaluation.status == JobStatus.RUNNING and fresh:
            return
    model_evaluation_execute(evaluation_id=evaluation_id)


def _register_training_jobs() -> None:
    from training.models import ModelEvaluation, TrainingRun

    register_recoverable(
        RecoverableJob(
            name="training_run",
            stale_ids=_stale(
                TrainingRun, Q(status__in=[JobStatus.PENDING, JobStatus.RUNNING]), "heartbeat_at"
            ),
            resend=lambda pk: train_model.send(pk),
            stale_after=timedelta(seconds=RUN_CLAIM_TTL_S * 2),
        )
    )
    register_recoverable(
        RecoverableJob(
            name="evaluation",
            stale_ids=_stale(
                ModelEvaluation, Q(status__in=[JobStatus.PENDING, JobStatus.RUNNING]), "heartbeat_at"
            ),
            resend=lambda pk: evaluate_model.send(pk),
        )
    )


_register_training_jobs()


@dramatiq.actor(queue_name="training", max_retries=0, time_limit=3600 * 1000)
def demo_pipeline(corpus_size: int, budget_seconds: int, owner_id: str) -> None:
    from training.demo import demo_needed, demo_pipeline_run

    if demo_needed():
        demo_pipeline_run(corpus_size=corpus_size, budget_seconds=budget_seconds, owner_id=owner_id)
