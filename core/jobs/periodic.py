"""Housekeeping that every worker process runs now and then (the reaper thread of core.jobs.middleware
calls `run_due`): apps register a function and its interval; several workers running one at once must
be harmless."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Periodic:
    name: str
    every_s: float
    call: Callable[[], object]
    next_at: float = 0.0  # due at the first run after boot


_TASKS: dict[str, _Periodic] = {}


def register_periodic(name: str, every_s: float, call: Callable[[], object]) -> None:
    _TASKS[name] = _Periodic(name, every_s, call)


def run_due(now: float | None = None) -> list[str]:
    """Run every task whose time has come; the names of those run. A failure is logged, never raised."""
    now = time.monotonic() if now is None else now
    ran = []
    for task in list(_TASKS.values()):
        if now < task.next_at:
            continue
        task.next_at = now + task.every_s
        try:
            task.call()
        except Exception:
            log.exception("periodic task %s failed", task.name)
        ran.append(task.name)
    return ran
