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
    """A kind of job that can lose its message. `stale_ids` lists rows to re-send."""

    name: str
    stale_ids: Callable[[timedelta | None], Iterable[Any]]
    resend: Callable[[Any], None]


_REGISTRY: dict[str, RecoverableJob] = {}


def register_recoverable(job: RecoverableJob) -> None:
    _REGISTRY[job.name] = job


def resend_lost_jobs(*, older_than: timedelta | None) -> dict[str, int]:
    """Re-send messages for non-terminal rows. `older_than=None`: every such row (the in-process
    broker lost all messages on restart); otherwise only rows whose heartbeat is that old."""
    counts: dict[str, int] = {}
    for job in _REGISTRY.values():
        n = 0
        for pk in job.stale_ids(older_than):
            job.resend(pk)
            n += 1
        counts[job.name] = n
        if n:
            log.warning("re-sent %d lost %s job(s)", n, job.name)
    return counts


HEARTBEAT_STALE_AFTER = timedelta(minutes=10)


class RecoverLostJobsMiddleware(dramatiq.Middleware):
    """On worker boot: re-send what the broker lost, so no row waits forever."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from django.conf import settings

        older_than = None if settings.EMBEDDED_BROKER else HEARTBEAT_STALE_AFTER

        def run() -> None:
            try:
                resend_lost_jobs(older_than=older_than)
            except Exception:  # a recovery failure must not stop the worker
                log.exception("job recovery failed")
            finally:
                from django.db import connection

                connection.close()

        threading.Thread(target=run, name="atelier-recover", daemon=True).start()
