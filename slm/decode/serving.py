"""Serving a model to many concurrent requests (plain Python, no Django).

`BatchLoop` is the scheduling around a continuous batch (slm.decode.sampling.DecodeBatch): admit requests
between steps while their rows fit, step, hand back what finished with how it was batched.

`DecodeServer` runs that loop in a process of its own, with the model loaded there (through CTranslate2,
or transformers as the fallback: slm.decode.sampling.Generator). Why a process: in the worker's process
the loop's Python (tokenizing, detokenizing, the form's decoding, and the whole transformers fallback)
would share one interpreter lock with every thread that parses requests, cleans SVG and writes rows, so
each slowed the other down. In its own process the loop keeps a core to itself; requests cross a pipe
once each way. Batching there: every request that is waiting when a decode call ends joins the next call
(`window_ms` > 0 also waits that long after the first arrival into an idle loop, for more to join). Callers `submit()` a DecodeRequest and wait on the Future; if the process dies, every request
in flight fails with an error and the next submit starts a new one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from slm.decode.sampling import DecodeRequest, Sample

log = logging.getLogger(__name__)


@dataclass
class DecodeResult:
    samples: list[Any]
    # size: the most requests that shared a step with it; steps; queued_ms (waiting to join);
    # generate_ms (from joining to its last token)
    stats: dict[str, int]


@dataclass
class _InFlight:
    submitted: float
    admitted: float = 0.0
    peak: int = 1
    steps: int = 0


@dataclass
class BatchLoop:
    """Admission and bookkeeping around one continuous batch (anything with add/step/rows/bool)."""

    new_batch: Callable[[], Any]
    max_rows: int = 64
    batch: Any = None
    flight: dict[Hashable, _InFlight] = field(default_factory=dict)
    _ready: list[tuple[Hashable, list[Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.max_rows = max(1, self.max_rows)
        self.batch = self.new_batch()

    def __bool__(self) -> bool:
        return bool(self.batch) or bool(self._ready)

    def take(
        self, waiting: deque[tuple[Hashable, DecodeRequest, float]]
    ) -> list[tuple[Hashable, DecodeRequest, float]]:
        """Pop requests from the front of `waiting` while their rows fit (always one into an empty
        batch), for admit(); the rest wait for a later step."""
        items: list[tuple[Hashable, DecodeRequest, float]] = []
        rows = len(getattr(self.batch, "rows", ())) if self.batch else 0
        while waiting and (not rows or rows + waiting[0][1].n <= self.max_rows):
            rows += waiting[0][1].n
            items.append(waiting.popleft())
        return items

    def admit(self, items: Sequence[tuple[Hashable, DecodeRequest, float]]) -> None:
        """Join requests (key, request, submitted at perf_counter) to the batch: one prefill for all."""
        if not items:
            return
        now = time.perf_counter()
        for key, _, submitted in items:
            self.flight[key] = _InFlight(submitted=submitted, admitted=now)
        done = self.batch.add([(key, request) for key, request, _ in items])
        self._ready += list(done.items())

    def step(self) -> list[tuple[Hashable, DecodeResult]]:
        """One decode step; the requests it finished, with their stats."""
        done = list(self._ready)
        self._ready.clear()
        if self.batch:
            done += list(self.batch.step().items())
        sharing = len(self.flight)
        for flight in self.flight.values():
            flight.steps += 1
            flight.peak = max(flight.peak, sharing)
        now = time.perf_counter()
        out = []
        for key, samples in done:
            flight = self.flight.pop(key)
            stats = {
                "size": flight.peak,
                "steps": flight.steps,
                "queued_ms": round((flight.admitted - flight.submitted) * 1000),
                "generate_ms": round((now - flight.admitted) * 1000),
            }
            out.append((key, DecodeResult(samples=list(samples), stats=stats)))
        return out

    def reset(self) -> list[Hashable]:
        """Drop everything in flight (after an error); the keys that were dropped."""
        keys = list(self.flight)
        self.flight.clear()
        self._ready.clear()
        self.batch = self.new_batch()
        return keys


# --- the decode process -----------------------------------------------------------------------------


def _serve(conn: Any, model_dir: str, options: dict[str, Any]) -> None:
    """The decode process: load the model, then admit, step and answer until told to stop."""
    from slm.decode.sampling import Generator

    num_threads = int(options.get("num_threads") or 0)
    max_rows = int(options.get("max_rows") or 64)
    window_s = max(0.0, float(options.get("window_ms") or 0)) / 1000
    try:
        generator = Generator(
            model_dir,
            device=options.get("device") or None,
            num_threads=num_threads or None,
            engine=options.get("engine") or "ctranslate2",
            compute_type=options.get("compute_type") or "float32",
        )
        if generator.ct2 is None and num_threads > 0:
            import torch

            torch.set_num_threads(num_threads)
    except Exception as exc:  # noqa: BLE001 - the parent turns this into the requests' error
        conn.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    info = {
        "device": generator.device,
        "threads": num_threads,
        "engine": generator.engine,
        "compute_type": generator.compute_type,
        "fallback_reason": generator.fallback_reason,
    }
    conn.send(("ready", info))
    loop = BatchLoop(generator.batch, max_rows=max_rows)
    waiting: deque[tuple[int, DecodeRequest, float]] = deque()
    stopping = False  # told to stop: finish what was sent, then exit
    while True:
        try:
            if not loop and not waiting:
                if stopping:
                    return
                conn.poll(None)  # idle: sleep until a message comes
                if window_s:  # a collection window: let others arrive before the first call
                    time.sleep(window_s)
            while not stopping and conn.poll():
                message = conn.recv()
                if message[0] == "stop":
                    stopping = True
                    break
                _, key, fields = message
                waiting.append((key, DecodeRequest(**fields), time.perf_counter()))
            loop.admit(loop.take(waiting))
            for key, result in loop.step():
                samples = [(s.text, s.tokens, s.finished) for s in result.samples]
                conn.send(("done", key, samples, result.stats))
        except (EOFError, OSError):
            return  # the parent went away
        except Exception as exc:  # noqa: BLE001 - fail what is in flight, keep serving
            conn.send(("failed", loop.reset(), f"{type(exc).__name__}: {exc}"))


class DecodeServer:
    """A model served by its own process (see the module docstring). Thread-safe."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        device: str | None = None,
        num_threads: int = 0,
        max_rows: int = 64,
        engine: str = "ctranslate2",
        compute_type: str = "float32",
        window_ms: float = 0.0,
        start_timeout_s: float = 300.0,
    ) -> None:
        self.model_dir = str(model_dir)
        self.options = {
            "device": device or "",
            "num_threads": num_threads,
            "max_rows": max_rows,
            "engine": engine,
            "compute_type": compute_type,
            "window_ms": window_ms,
        }
        self.start_timeout_s = start_timeout_s
        self.info: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._keys = itertools.count()
        self._futures: dict[int, tuple[Any, Future[DecodeResult]]] = {}  # key -> (its process's pipe, future)
        self._proc: Any = None
        self._conn: Any = None
        self._closed = False

    def submit(self, request: DecodeRequest) -> Future[DecodeResult]:
        future: Future[DecodeResult] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            if self._closed:
                raise RuntimeError("this decode server was closed")
            self._ensure_started()
            key = next(self._keys)
            self._futures[key] = (self._conn, future)
            try:
                self._conn.send(("job", key, asdict(request)))
            except (OSError, ValueError) as exc:
                self._futures.pop(key, None)
                raise RuntimeError("the decode process is not running") from exc
        return future

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        seed: int = 0,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        context: str | None = None,
    ) -> list[list[Sample]]:
        """Generator.generate's call, served by the process (each prompt a request of the batch)."""
        futures = [
            self.submit(DecodeRequest(p, n, seed, temperature, max_new_tokens, context)) for p in prompts
        ]
        return [f.result().samples for f in futures]

    def close(self) -> None:
        """Stop taking requests; the process finishes those it has (10 s at most), then exits."""
        with self._lock:
            self._closed = True
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop",))
        if proc is not None:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _ensure_started(self) -> None:
        """Start the process if it is not running (the caller holds the lock)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        # A fresh interpreter (not a fork: the parent has threads, maybe CUDA) that runs this module;
        # the two ends talk over a socket pair with multiprocessing's framing.
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-m", "slm.decode.serving", str(theirs.fileno()), self.model_dir]
        command.append(json.dumps(self.options))
        try:
            proc = subprocess.Popen(command, pass_fds=(theirs.fileno(),), close_fds=True)
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        if not conn.poll(self.start_timeout_s):
            proc.kill()
            raise RuntimeError(f"the decode process did not start within {self.start_timeout_s:g} s")
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError) as exc:
            proc.wait(5)
            raise RuntimeError("the decode process exited while starting") from exc
        if kind != "ready":
            proc.wait(5)
            raise RuntimeError(f"the decode process could not load the model: {payload}")
        self.info = payload
        self._proc, self._conn = proc, conn
        threading.Thread(target=self._read, args=(conn,), name="atelier-decode-reader", daemon=True).start()

    def _read(self, conn: Any) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "done":
                _, key, samples, stats = message
                future = self._pop(key)
                if future is not None:
                    future.set_result(DecodeResult([Sample(t, n, f) for t, n, f in samples], stats))
            elif message[0] == "failed":
                _, keys, error = message
                log.error("decode step failed in the decode process: %s", error)
                for key in keys:
                    future = self._pop(key)
                    if future is not None:
                        future.set_exception(RuntimeError(f"decoding failed: {error}"))
        with self._lock:  # the process is gone: what it held fails, the next submit starts a new one
            if self._conn is conn:
                self._proc = self._conn = None
            lost = [k for k, (c, _) in self._futures.items() if c is conn]
            futures = [self._futures.pop(k)[1] for k in lost]
        for future in futures:
            future.set_exception(RuntimeError("the decode process exited"))

    def _pop(self, key: int) -> Future[DecodeResult] | None:
        with self._lock:
            entry = self._futures.pop(key, None)
        return entry[1] if entry is not None else None


if __name__ == "__main__":  # the decode process: python -m slm.decode.serving FD MODEL_DIR OPTIONS_JSON
    _fd, _model_dir, _options = sys.argv[1:4]
    _serve(Connection(int(_fd)), _model_dir, json.loads(_options))
