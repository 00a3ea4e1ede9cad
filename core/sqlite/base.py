"""Django's SQLite backend with fair write transactions between the threads of one process.

SQLite lets one writer in at a time; the others retry on a busy handler that sleeps longer each time
(up to 100 ms a try), so under many concurrent writers (the embedded worker's threads and the web
threads of `make run`) an unlucky transaction can wait a second while the lock is free most of that
time. Here the threads of a process queue on one lock before BEGIN IMMEDIATE instead, and each one is
let in the moment the previous one commits. Other processes still meet SQLite's own lock and timeout;
a thread that waits longer than the busy timeout goes on to SQLite's handler as before.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.backends.sqlite3 import base

_write_lock = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float((self.settings_dict.get("OPTIONS") or {}).get("timeout", 5))
        self._holds_write_lock = _write_lock.acquire(timeout=timeout)
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            _write_lock.release()

    def _commit(self) -> Any:
        try:
            return super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self) -> Any:
        try:
            return super()._close()
        finally:
            self._release_write_lock()
