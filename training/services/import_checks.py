"""The row checks of an import: each row's fields, then core.svg's parse, sanitise and normalise, in a pool
of worker processes past the first chunk."""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from django.conf import settings

from core.lifetime import exit_with_parent
from training import readers

CHUNK = 1000
TASK_ROWS = 250  # rows a worker process checks per task (fewer round trips, bounded memory)


def checked_rows(rows: Iterator[readers.RawRow]) -> Iterator[readers.CheckedRow]:
    """Every row checked (its fields, then core.svg's parse, sanitise and normalise), in source order.
    Past the first chunk the checks run in a pool of worker processes (IMPORT_WORKERS, one per core by
    default) while this process dedups and writes: at most two tasks a worker are in flight, so memory
    stays bounded whatever the file's size. A small import, or IMPORT_WORKERS=1, checks here."""
    workers = max(1, int(settings.IMPORT_WORKERS or 1))
    head = list(itertools.islice(rows, CHUNK))
    if workers < 2 or len(head) < CHUNK:
        for raw in itertools.chain(head, rows):
            yield readers.check_row(raw)
        return
    pool = _check_pool(workers)
    source = itertools.chain(head, rows)
    in_flight: deque[Future[list[readers.CheckedRow]]] = deque()

    def submit() -> None:
        part = list(itertools.islice(source, TASK_ROWS))
        if part:
            in_flight.append(pool.submit(readers.check_rows, part))

    for _ in range(2 * workers):
        submit()
    try:
        while in_flight:
            done = in_flight.popleft().result()
            submit()
            yield from done
    except BrokenProcessPool:
        _check_pool_reset()
        raise
    finally:
        for future in in_flight:
            future.cancel()


_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _check_pool(workers: int) -> ProcessPoolExecutor:
    """This process's pool of check workers (fresh interpreters: the worker process may hold threads),
    started on first use and kept for the next import."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,  # workers (and so the resource tracker) end with us
                initargs=(os.getpid(),),
            )
            _pool_size = workers
        return _pool


def _check_pool_reset() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(_check_pool_reset)
