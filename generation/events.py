"""Wake-up for `?wait=N`: when a worker finishes a request, the calls waiting on that request (and only
those) wake at once, so a waiting API call answers at once and fifty waiters do not stampede the
database at every finish. A worker thread of this process (the embedded broker) wakes them directly.
With REDIS_URL set, as deployed, the finish is also published on a Redis channel, and each process
with waiters keeps one subscriber thread that wakes its own (generation.events_redis): gunicorn's
calls answer as soon as a `rundramatiq` process commits, not at their next poll. Polling
(generation.selectors.generation_wait) stays as the fallback for a message lost on the way.

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

from generation import events_redis

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
    """Wake the waits on this request (after its transaction committed), here and, with Redis, in
    every other process; `finished` when the caller knows exactly what was committed, else they read
    the row again."""
    wake(output_id, finished)
    events_redis.publish(output_id)


def wake(output_id: object, finished: Finished | None = None) -> None:
    """Wake this process's waits on the request. A wait already woken keeps what it was handed (the
    same finish, published back to this process by Redis, comes without it)."""
    with _lock:
        for waiter in _waiters.get(str(output_id), ()):
            if waiter.event.is_set():
                continue
            waiter.finished = finished
            waiter.event.set()


@contextmanager
def waiting_for(output_id: object) -> Iterator[Waiter]:
    """A waiter woken when this request finishes in this process. Subscribe before reading the status,
    so a finish between the read and the wait is not missed."""
    events_redis.listen(wake)  # this process hears other processes' finishes from now on
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
