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


def _stale(model: Any, active: Q, stamp: str) -> Any:
    def ids(older_than: timedelta | None) -> Any:
        qs = model.objects.filter(active)
        if older_than is not None:
            cutoff = timezone.now() - older_than
            qs = qs.filter(
                Q(**{f"{stamp}__lt": cutoff}) | Q(**{f"{stamp}__isnull": True}, updated_at__lt=cutoff)
            )
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
        stale_ids=_stale(Dataset, Q(status=Dataset.Status.PROCESSING), "updated_at"),
        resend=lambda pk: export_dataset.send(pk),
    )
)


def _reset_and_send(model: Any, pk: str, actor: dramatiq.Actor) -> None:
    # A killed import rolled back (or stored chunks idempotently): start it again from pending.
    model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(status=JobStatus.PENDING)
    actor.send(pk)
