"""The in-process broker's worker, for laptops: `make run` needs nothing but Python."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import threading
from collections.abc import Iterator

import dramatiq
from django.apps import apps
from django.conf import settings

log = logging.getLogger(__name__)
_workers: list[dramatiq.Worker] = []
# Generation requests wait in their worker thread while the model decodes them together, so that queue
# gets a worker of its own with many threads; the rest (imports, training) keep a few.
GENERATION_QUEUE = "generation"
_lock = threading.Lock()


def import_tasks_modules() -> None:
    """Declare every actor (as rundramatiq does) so the worker consumes every queue."""
    for app_config in apps.get_app_configs():
        if importlib.util.find_spec(f"{app_config.name}.tasks") is not None:
            importlib.import_module(f"{app_config.name}.tasks")


def start_embedded_worker() -> list[dramatiq.Worker]:
    """Start (once) workers over every queue of the stub broker; they also re-send lost jobs."""
    with _lock:
        if _workers:
            return _workers
        import_tasks_modules()
        broker = dramatiq.get_broker()
        queues = set(broker.get_declared_queues())
        plan = [
            (queues - {GENERATION_QUEUE}, settings.EMBEDDED_WORKER_THREADS),
            ({GENERATION_QUEUE} & queues, settings.GENERATION_WORKER_THREADS),
        ]
        for names, threads in plan:
            if names:
                worker = dramatiq.Worker(broker, queues=names, worker_threads=threads, worker_timeout=200)
                with _quiet_second_worker():
                    worker.start()
                _workers.append(worker)
                log.info("embedded worker started on queues %s (%d threads)", sorted(names), threads)
        return _workers


@contextlib.contextmanager
def _quiet_second_worker() -> Iterator[None]:
    """Each Worker adds its own middleware to the broker when it starts, which warns of a second one of
    that type: expected here (each worker has its own queues), so that one warning is dropped."""

    def drop(record: logging.LogRecord) -> bool:
        return "same type twice" not in record.getMessage()

    logger = logging.getLogger(f"dramatiq.broker.{type(dramatiq.get_broker()).__name__}")
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def stop_embedded_worker() -> None:
    with _lock:
        while _workers:
            _workers.pop().stop()
