"""The worker processes resvg runs in (core/svg/_render_worker.py, started as a script): a small pool of
long-lived processes with an address-space limit, a worker past its time killed and replaced, and the
caps on what a render may be."""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.svg.parse import SvgError

MAX_RENDER_SIDE = 2048
MAX_RENDER_PIXELS = MAX_RENDER_SIDE * MAX_RENDER_SIDE
RENDER_MEMORY_LIMIT_BYTES = 1 << 30  # per worker process (address space)
RENDER_WORKERS = 2  # processes; concurrent renders beyond this wait for a free worker
_WORKER_SCRIPT = Path(__file__).with_name("_render_worker.py")


class _WorkerFailed(Exception):
    """The worker process crashed or broke the protocol; it must be discarded."""


class _WorkerTimeout(_WorkerFailed):
    """The worker did not answer in time; it must be killed."""


class _Worker:
    def __init__(self, memory_limit: int, niceness: int = 0) -> None:
        # -I: isolated mode, so the environment and the script's folder cannot change what it imports.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER_SCRIPT), str(memory_limit), str(niceness)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )

    def _read_exact(self, n: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise _WorkerTimeout("timeout")
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise _WorkerFailed("worker exited")
            buf += chunk
        return bytes(buf)

    def render(self, request: dict[str, Any], timeout_s: float) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout_s
        body = json.dumps(request).encode("utf-8")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(struct.pack(">I", len(body)) + body)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _WorkerFailed("worker exited") from exc
        status, length = struct.unpack(">BI", self._read_exact(5, deadline))
        if status not in (0, 1) or length > 4 * MAX_RENDER_PIXELS + 1_000_000:
            raise _WorkerFailed("protocol error")
        return status, self._read_exact(length, deadline)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class RenderPool:
    def __init__(
        self,
        max_workers: int = RENDER_WORKERS,
        memory_limit: int = RENDER_MEMORY_LIMIT_BYTES,
        niceness: int = 0,
    ) -> None:
        self.max_workers = max_workers
        self.memory_limit = memory_limit
        self.niceness = niceness
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_workers)
        self._idle: list[_Worker] = []

    def render(self, request: dict[str, Any], timeout_s: float) -> tuple[int, bytes]:
        if os.getpid() != self._pid:
            self._reset()  # forked: the inherited workers belong to the parent
        if not self._slots.acquire(timeout=timeout_s):
            raise SvgError("The renderer is busy; try again shortly.")
        try:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            for attempt in range(2):
                if worker is None or worker.proc.poll() is not None:
                    worker = _Worker(self.memory_limit, self.niceness)
                try:
                    result = worker.render(request, timeout_s)
                except _WorkerFailed as exc:
                    worker.kill()
                    worker = None
                    if isinstance(exc, _WorkerTimeout):
                        raise SvgError(
                            f"Rendering took longer than {timeout_s:g} s and was stopped."
                        ) from exc
                    if attempt == 1:
                        raise SvgError(
                            "The renderer crashed on this SVG (it is probably too large)."
                        ) from exc
                    continue  # a stale worker may have died while idle: retry once with a fresh one
                with self._lock:
                    self._idle.append(worker)
                return result
            raise AssertionError("unreachable")
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
