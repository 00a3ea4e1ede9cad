"""In-process wake-up for `?wait=N`: when a worker thread in this process (the embedded broker, or a
web process that also runs the worker) finishes a request, it wakes the calls waiting on that request
only, so a waiting API call answers at once and fifty waiters do not stampede the database at every
finish. Waits on other processes' workers poll (generation.selectors.generation_wait)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_waiters: dict[str, list[threading.Event]] = {}


def output_finished(output_id: object) -> None:
    with _lock:
        events = _waiters.get(str(output_id), ())
        for event in events:
            event.set()


@contextmanager
def waiting_for(output_id: object) -> Iterator[threading.Event]:
    """An event set when this request finishes in this process. Subscribe before reading the status, so
    a finish between the read and the wait is not missed."""
    key = str(output_id)
    event = threading.Event()
    with _lock:
        _waiters.setdefault(key, []).append(event)
    try:
        yield event
    finally:
        with _lock:
            events = _waiters.get(key, [])
            if event in events:
                events.remove(event)
            if not events:
                _waiters.pop(key, None)
