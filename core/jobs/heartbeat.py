"""One heartbeat thread per process keeps every row this process has claimed alive.

Jobs do not beat themselves (an evaluation or a generation has nothing to report while the model works),
so a claim stays fresh for as long as its worker thread runs it, and goes stale within
JOB_CLAIM_TTL_SECONDS of the process dying. One UPDATE per job model every interval, whatever the number
of jobs in flight.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import operator
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from core.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)

_lock = threading.Lock()
_claimed: dict[type[Job], dict[str, str]] = {}  # model -> {pk: worker_id}
_thread: threading.Thread | None = None


def interval_s() -> float:
    # Several beats per claim lifetime: one late beat must not make a live claim look dead.
    return max(1.0, settings.JOB_CLAIM_TTL_SECONDS / 6)


@contextlib.contextmanager
def beating(job: Job) -> Iterator[None]:
    """Keep this claimed row's heartbeat fresh while the block runs."""
    global _thread
    model, pk = type(job), str(job.pk)
    with _lock:
        _claimed.setdefault(model, {})[pk] = job.worker_id
        if _thread is None:
            _thread = threading.Thread(target=_run, name="atelier-heartbeat", daemon=True)
            _thread.start()
    try:
        yield
    finally:
        with _lock:
            _claimed.get(model, {}).pop(pk, None)


def held_here(model: type[Job]) -> set[str]:
    """Rows of this model that a thread of this process is running now: alive, whatever their heartbeat
    says (SQLite lets one writer in at a time, so a long write elsewhere can hold a beat back)."""
    with _lock:
        return set(_claimed.get(model, {}))


def beat() -> int:
    """Refresh every claimed row of this process that its worker still holds; returns how many."""
    with _lock:
        snapshot = {model: dict(rows) for model, rows in _claimed.items() if rows}
    now, beaten = timezone.now(), 0
    for model, rows in snapshot.items():
        held = functools.reduce(operator.or_, (Q(pk=pk, worker_id=w) for pk, w in rows.items()))
        beaten += model.objects.filter(held, status=JobStatus.RUNNING).update(heartbeat_at=now)
    return beaten


def _run() -> None:
    while True:
        time.sleep(interval_s())
        try:
            beat()
        except Exception:  # a missed beat is retried next interval; the worker must not notice
            log.exception("job heartbeat failed")
        finally:
            connection.close()
