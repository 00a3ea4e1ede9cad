"""Dramatiq actors for generation: thin, idempotent, ids only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import dramatiq
from django.db import transaction
from django.utils import timezone

from core.jobs import RecoverableJob, register_recoverable
from generation.models import DesignOutput

TIME_LIMIT_MS = 5 * 60 * 1000


@dramatiq.actor(queue_name="generation", max_retries=3, time_limit=TIME_LIMIT_MS, min_backoff=1000)
def generate(output_id: str) -> None:
    from generation.services import (
        design_output_claim,
        generation_execute,
        is_claimed_by_live_worker,
        output_pngs_render,
    )

    with transaction.atomic():
        rows = list(
            DesignOutput.objects.select_for_update(of=("self",))
            .select_related("prompt", "model_version")
            .filter(pk=output_id)
            .order_by()[:1]  # not .first(): ordering a primary-key lookup only costs time
        )
        output = rows[0] if rows else None
        if output is None or output.status == DesignOutput.Status.FAILED:
            return  # a second delivery does nothing
        completed = output.status == DesignOutput.Status.COMPLETED
        if not completed:
            if output.status == DesignOutput.Status.PROCESSING and is_claimed_by_live_worker(output):
                return  # being run right now
            if not design_output_claim(output=output):
                return
    if completed:  # delivered again after the designs were stored: only PNGs may be missing
        output_pngs_render(output_id=output_id)
        return
    generation_execute(output=output)


def _stale_ids(older_than: timedelta | None) -> Iterable[str]:
    """Reap rows a dead worker left `processing`, then list what needs its message again."""
    from generation.services import generation_reap_stale, pending_ids

    reaped = generation_reap_stale(older_than=older_than)
    seen = set(reaped.requeued)
    yield from reaped.requeued
    for pk in pending_ids(older_than=older_than):
        if pk not in seen:
            yield pk


def _resend(pk: str) -> None:
    # Touch the row so the periodic recovery re-sends a long-queued request once per interval, not each pass.
    DesignOutput.objects.filter(pk=pk, status=DesignOutput.Status.PENDING).update(updated_at=timezone.now())
    generate.send(pk)


def _stale_after() -> timedelta:
    from generation.services import claim_stale_after

    return claim_stale_after()


register_recoverable(
    RecoverableJob(name="generation", stale_ids=_stale_ids, resend=_resend, stale_after=_stale_after())
)
