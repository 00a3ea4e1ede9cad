"""A writer thread for rows nobody waits for (the API request log): callers hand items over and go on; the
thread writes whatever has gathered meanwhile in one call, so under load many rows share one INSERT and
one commit, and an idle process writes each row at once.

Items still queued when the process exits normally are written first (atexit); a process killed outright
loses what it had not written yet, a few milliseconds of items. A forked child starts its own thread and
queue. The thread keeps its own database connection, closed after a failed write so the next one opens a
fresh connection.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connection

T = TypeVar("T")
log = logging.getLogger(__name__)


class BackgroundWriter(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], *, name: str, batch: int = 500) -> None:
        self._write = write
        self._name = name
        self._batch = batch
        self._lock = threading.Lock()
        self._pid = -1
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        atexit.register(self.flush)

    def put(self, item: T) -> None:
        self._started().put(item)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything handed over before this call is written (True), or `timeout` passes."""
        if self._pid != os.getpid():
            return True  # no thread in this process: nothing was handed over here
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _started(self) -> queue.SimpleQueue[Any]:
        if self._pid == os.getpid():
            return self._queue
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: a thread of its own
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, args=(self._queue,), name=self._name, daemon=True).start()
                self._pid = os.getpid()
        return self._queue

    def _run(self, items: queue.SimpleQueue[Any]) -> None:
        while True:
            first = items.get()
            gathered, flushes = [], []
            for item in self._drain(first, items):
                (flushes if isinstance(item, threading.Event) else gathered).append(item)
            if gathered:
                try:
                    self._write(gathered)
                except Exception:  # the write function reports its own failures; the thread goes on
                    log.exception("%s: %d item(s) could not be written", self._name, len(gathered))
                    connection.close()
            for event in flushes:
                event.set()

    def _drain(self, first: Any, items: queue.SimpleQueue[Any]) -> list[Any]:
        out = [first]
        while len(out) < self._batch:
            try:
                out.append(items.get_nowait())
            except queue.Empty:
                break
        return out
