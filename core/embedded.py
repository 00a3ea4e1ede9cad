"""The in-process broker's worker, for laptops: `make run` needs nothing but Python."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading

import dramatiq
from django.apps import apps
from django.conf import settings

log = logging.getLogger(__name__)
_worker: dramatiq.Worker | None = None
_lock = threading.Lock()


def import_tasks_modules() -> None:
    """Declare every actor (as rundramatiq does) so the worker consumes every queue."""
    for app_config in apps.get_app_configs():
        if importlib.util.find_spec(f"{app_config.name}.tasks") is not None:
            importlib.import_module(f"{app_config.name}.tasks")


def start_embedded_worker() -> dramatiq.Worker:
    """Start (once) a worker over every queue of the stub broker; it also re-sends lost jobs."""
    global _worker
    with _lock:
        if _worker is not None:
            return _worker
        import_tasks_modules()
        broker = dramatiq.get_broker()
        _worker = dramatiq.Worker(broker, worker_threads=settings.EMBEDDED_WORKER_THREADS, worker_timeout=200)
        _worker.start()
        log.info("embedded worker started on queues %s", sorted(broker.get_declared_queues()))
        return _worker


def stop_embedded_worker() -> None:
    global _worker
    with _lock:
        if _worker is not None:
            _worker.stop()
            _worker = None
