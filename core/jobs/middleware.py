"""The worker middleware that recovers lost jobs (and runs the apps' periodic housekeeping,
core.jobs.periodic): on boot, then every REAPER_INTERVAL_S.

Dramatiq loads middleware while Django sets up, before the apps are ready: nothing here imports a model
until a worker boots.
"""

from __future__ import annotations

import logging
import threading

import dramatiq

log = logging.getLogger(__name__)

REAPER_INTERVAL_S = 30.0


class RecoverLostJobsMiddleware(dramatiq.Middleware):
    """On worker boot, re-send what the broker lost; then, every REAPER_INTERVAL_S, re-send jobs whose
    worker died (stale heartbeat)."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from django.conf import settings

        if getattr(self, "_owner", None) is not None:
            return  # one reaper per process, however many workers share the broker (the embedded ones)
        stop = threading.Event()
        self._owner, self._stop = id(worker), stop
        embedded = settings.EMBEDDED_BROKER

        def run() -> None:
            from django.db import connection

            from core.jobs.periodic import run_due
            from core.jobs.recovery import resend_lost_jobs

            first = True
            while not stop.is_set():
                try:
                    resend_lost_jobs(everything=first and embedded)
                except Exception:  # a recovery failure must not stop the worker
                    log.exception("job recovery failed")
                finally:
                    connection.close()
                try:
                    run_due()  # housekeeping the apps registered (core.jobs.periodic); logs its own failures
                finally:
                    connection.close()
                first = False
                stop.wait(REAPER_INTERVAL_S)

        threading.Thread(target=run, name="atelier-reaper", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if getattr(self, "_owner", None) == id(worker):
            self._stop.set()
            self._owner = None


class EndWithParentMiddleware(dramatiq.Middleware):
    """A `dramatiq` worker process (what `rundramatiq` forks) ends when its parent does, even one killed
    outright (SIGKILL), which Dramatiq's own signal forwarding cannot see."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        import multiprocessing
        import os

        from core.lifetime import exit_with_parent

        # The pid multiprocessing recorded when it forked us: a parent killed while this process was
        # still booting has already handed us to init, and getppid() would watch init instead.
        parent = multiprocessing.parent_process()
        exit_with_parent(parent.pid if parent is not None and parent.pid else os.getppid())
