"""In-process wake-up for `?wait=N`: a worker thread in this process (the embedded broker) rings when a
request finishes, so a waiting API call answers at once; waits for other processes' workers poll."""

from __future__ import annotations

import threading

_cond = threading.Condition()
_version = 0


def output_finished() -> None:
    global _version
    with _cond:
        _version += 1
        _cond.notify_all()


def current() -> int:
    return _version


def wait_after(seen: int, timeout: float) -> None:
    """Sleep until some request finishes after `seen` was read, or `timeout` seconds pass."""
    with _cond:
        _cond.wait_for(lambda: _version != seen, timeout=max(0.0, timeout))
