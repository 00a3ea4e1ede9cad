"""One way to enqueue Dramatiq messages, and recovery of jobs whose message was lost.

The database row is the source of truth for every job. Each app registers its job kinds here;
when a worker boots, rows that are not terminal and have no live worker get their message again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
from django.db import transaction

log = logging.getLogger(__name__)


def enqueue_on_commit(actor: dramatiq.Actor, *args: Any, **options: Any) -> None:
    """Send only after the surrounding transaction commits: a worker must find the row."""
    transaction.on_commit(lambda: actor.send_with_options(args=args, **options))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass(frozen=True)
class RecoverableJob:
    """A kind of job that can lose its message or its worker.

    `stale_ids(older_than)` lists non-terminal rows (all of them when older_than is None, else those
    whose heartbeat is older); `resend` sends the message again (the actor's claim makes it idempotent).
    """

    name: str
    stale_ids: Callable[[timedelta | None], Iterable[Any]]
    resend: Callable[[Any], None]
    stale_after: timedelta = timedelta(minutes=10)


_REGISTRY: dict[str, RecoverableJob] = {}


def register_recoverable(job: RecoverableJob) -> None:
    _REGISTRY[job.name] = job


def resend_lost_jobs(*, everything: bool) -> dict[str, int]:
    """Re-send messages for non-terminal rows: every such row when `everything` (the in-process broker
    lost all its messages on restart), else only rows whose heartbeat is older than the job's limit."""
    counts: dict[str, int] = {}
    for job in _REGISTRY.values():
        n = 0
        for pk in job.stale_ids(None if everything else job.stale_after):
            job.resend(pk)
            n += 1
        counts[job.name] = n
        if n:
            log.warning("re-sent %d lost %s job(s)", n, job.name)
    return counts


REAPER_INTERVAL_S = 30.0


class RecoverLostJobsMiddleware(dramatiq.Middleware):
    """On worker boot, re-send what the broker lost; then, every REAPER_INTERVAL_S, re-send jobs whose
    worker died (stale heartbeat). Several workers may do this at once: the actors' claims make it safe."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from django.conf import settings

        if getattr(self, "_owner", None) is not None:
            return  # one reaper per process, however many workers share the broker (the embedded ones)
        stop = threading.Event()
        self._owner, self._stop = id(worker), stop
        embedded = settings.EMBEDDED_BROKER

        def run() -> None:
            from django.db import connection

            first = True
            while not stop.is_set():
                try:
                    resend_lost_jobs(everything=first and embedded)
                except Exception:  # a recovery failure must not stop the worker
                    log.exception("job recovery failed")
                finally:
                    connection.close()
                first = False
                stop.wait(REAPER_INTERVAL_S)

        threading.Thread(target=run, name="atelier-reaper", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if getattr(self, "_owner", None) == id(worker):
            self._stop.set()
            self._owner = None
