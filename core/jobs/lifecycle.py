"""Every state change of a job row, written in one place: claim, finish, release (hand back) and reap.

Liveness is the heartbeat: a running row whose heartbeat is younger than JOB_CLAIM_TTL_SECONDS belongs to
a live worker; an older one was left by a dead worker and is handed back. Attempts are counted at the
claim, and JOB_MAX_ATTEMPTS is the one retry budget: a row claimed that many times fails instead of
running again, however its message came back (a Dramatiq retry, the reaper, a duplicate delivery).
Workers' job-state writes are not audited: the row keeps its own attempts, timings and error.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from auditlog.context import disable_auditlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.db import commit_without_flush
from core.jobs.heartbeat import held_here
from core.jobs.kinds import notify
from core.jobs.models import Job, JobStatus

J = TypeVar("J", bound=Job)

# Rows claimed before this moment belong to a worker of an earlier process (see job_reap).
PROCESS_STARTED = timezone.now()


def claim_ttl() -> timedelta:
    return timedelta(seconds=settings.JOB_CLAIM_TTL_SECONDS)


def max_attempts() -> int:
    return settings.JOB_MAX_ATTEMPTS


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def job_claim(model: type[J], pk: Any, *, select_related: tuple[str, ...] = ()) -> J | None:
    """Take a row for this worker, or None when it is gone, finished, or held by a live worker. A row
    whose attempts are used up is failed instead."""
    now = timezone.now()
    with transaction.atomic(), disable_auditlog():
        commit_without_flush()  # a claim lost in a database crash leaves the job pending: the reaper re-sends it
        rows = list(
            model.objects.select_for_update(of=("self",))
            .select_related(*select_related)
            .filter(pk=pk)
            .order_by()[:1]  # not .first(): ordering a primary-key lookup only costs time
        )
        job = rows[0] if rows else None
        if job is None or job.is_terminal:
            return None
        if job.status == JobStatus.RUNNING and job.heartbeat_at and job.heartbeat_at > now - claim_ttl():
            return None  # a live worker has it
        if job.attempts >= max_attempts():
            _fail_exhausted(job, now)
            return None
        job.status, job.worker_id, job.heartbeat_at = JobStatus.RUNNING, worker_id(), now
        job.attempts += 1
        job.started_at = job.started_at or now
        job.save(
            update_fields=["status", "worker_id", "heartbeat_at", "attempts", "started_at", "updated_at"]
        )
        notify(job)
    return job


def job_finish(job: Job, status: str, *, error: str = "", on_state: bool = True, **fields: Any) -> bool:
    """End a claimed row (completed, failed or cancelled) with `fields`; False, and nothing written, when
    the row is no longer this claim's (reaped, or finished elsewhere meanwhile). `on_state=False`: the
    caller has already written what its kind's `on_state` hook would, in this same transaction."""
    now = timezone.now()
    values: dict[str, Any] = {"status": status, "finished_at": now, "updated_at": now, **fields}
    if error or status == JobStatus.FAILED:
        values["error_message"] = error[:5000]
    if status == JobStatus.COMPLETED:
        values.setdefault("progress", 1.0)
    # No savepoint: inside a caller's transaction (a generation storing its designs) this is one UPDATE.
    with transaction.atomic(savepoint=False), disable_auditlog():
        done = type(job).objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id)
        if not done.update(**values):
            return False
        for name, value in values.items():
            setattr(job, name, value)
        if on_state:
            notify(job)
    return True


def job_release(job: Job) -> None:
    """Hand an interrupted claim back (a time limit, a shutdown, an unexpected error): pending for the
    next delivery, or failed once its attempts are used up. Only a row this claim still holds."""
    with transaction.atomic(), disable_auditlog():
        row = (
            type(job)
            .objects.select_for_update(of=("self",))
            .filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id)
            .first()
        )
        if row is not None:
            _hand_back(row, timezone.now())


@dataclass
class ReapResult:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def job_reap(model: type[Job], *, older_than: timedelta | None) -> ReapResult:
    """Hand back rows a dead worker left running: those whose heartbeat is older than `older_than`, or,
    with None (the in-process broker's worker died with its process), every row claimed before this
    process started. Never a row a thread of this process is running."""
    result = ReapResult()
    now = timezone.now()
    cutoff = PROCESS_STARTED if older_than is None else now - older_than
    stale = Q(status=JobStatus.RUNNING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    ours = held_here(model)
    for pk in model.objects.filter(stale).exclude(pk__in=ours).values_list("pk", flat=True):
        with transaction.atomic(), disable_auditlog():
            row = model.objects.select_for_update(of=("self",)).filter(Q(pk=pk) & stale).first()
            if row is None:
                continue
            _hand_back(row, now)
            (result.failed if row.status == JobStatus.FAILED else result.requeued).append(str(pk))
    return result


def pending_ids(model: type[Job], *, untouched_since: datetime | None) -> list[str]:
    """Pending rows (all of them, or those nobody touched since the given moment), oldest first, touched
    now so that periodic recovery sends each one once per interval."""
    qs = model.objects.filter(status=JobStatus.PENDING)
    if untouched_since is not None:
        qs = qs.filter(updated_at__lt=untouched_since)
    ids = [str(pk) for pk in qs.order_by("created_at").values_list("pk", flat=True)]
    if ids:
        model.objects.filter(pk__in=ids, status=JobStatus.PENDING).update(updated_at=timezone.now())
    return ids


def _hand_back(row: Job, now: datetime) -> None:
    if row.attempts >= max_attempts():
        _fail_exhausted(row, now)
        return
    row.status, row.worker_id, row.heartbeat_at = JobStatus.PENDING, "", None
    row.save(update_fields=["status", "worker_id", "heartbeat_at", "updated_at"])
    notify(row)


def _fail_exhausted(row: Job, now: datetime) -> None:
    row.status, row.error_message, row.finished_at = JobStatus.FAILED, row.exhausted_message, now
    row.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
    notify(row)
