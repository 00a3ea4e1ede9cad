"""In-process wake-up for `?wait=N`: when a worker thread in this process (the embedded broker, or a
web process that also runs the worker) finishes a request, it wakes the calls waiting on that request
only, so a waiting API call answers at once and fifty waiters do not stampede the database at every
finish. Waits on other processes' workers poll (generation.selectors.generation_wait).

A worker that completed a request also hands its waiters what it committed (`Finished`: the row's new
field values and the design rows it inserted), so the answer is built without reading back what this
process has just written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_lock = threading.Lock()
_waiters: dict[str, list[Waiter]] = {}


@dataclass(frozen=True)
class Finished:
    """What a completion committed: the DesignOutput's changed fields and its OutputImage rows (in the
    API's order: sequence_order, then file type)."""

    fields: dict[str, Any]
    images: tuple[Any, ...] = ()


@dataclass(eq=False)
class Waiter:
    event: threading.Event = field(default_factory=threading.Event)
    finished: Finished | None = None

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout)

    def is_set(self) -> bool:
        return self.event.is_set()


def output_finished(output_id: object, finished: Finished | None = None) -> None:
    """Wake the waits on this request (after its transaction committed); `finished` when the caller
    knows exactly what was committed, else they read the row again."""
    with _lock:
        for waiter in _waiters.get(str(output_id), ()):
            waiter.finished = finished
            waiter.event.set()


@contextmanager
def waiting_for(output_id: object) -> Iterator[Waiter]:
    """A waiter woken when this request finishes in this process. Subscribe before reading the status,
    so a finish between the read and the wait is not missed."""
    key = str(output_id)
    waiter = Waiter()
    with _lock:
        _waiters.setdefault(key, []).append(waiter)
    try:
        yield waiter
    finally:
        with _lock:
            waiters = _waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                _waiters.pop(key, None)
