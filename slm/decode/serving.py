"""A model served to many concurrent requests by a process of its own (plain Python, no Django).

`DecodeServer` starts the process, with the model loaded there (through CTranslate2, or transformers as
the fallback: slm.decode.sampling.Generator), and the model's decode loop (slm.decode.loop.Scheduler, the
same loop that runs on a thread for a model loaded in-process) running there on what comes through the
pipe. Why a process: in the worker's process the loop's Python (tokenizing, detokenizing, the form's
decoding, and the whole transformers fallback) would share one interpreter lock with every thread that
parses requests, cleans SVG and writes rows, so each slowed the other down. In its own process the loop
keeps a core to itself; requests cross a pipe once each way. Callers `submit()` a DecodeRequest and wait
on the Future; if the process dies, every request in flight fails with an error and the next submit
starts a new one.
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
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from slm.decode.loop import Scheduler
from slm.decode.types import DecodeRequest, DecodeResult, Sample

log = logging.getLogger(__name__)


def _serve(conn: Any, model_dir: str, options: dict[str, Any]) -> None:
    """The decode process: load the model, then run the model's decode loop (slm.decode.loop.Scheduler)
    on what comes through the pipe, until told to stop (finishing what was sent) or the parent goes."""
    from slm.decode.sampling import Generator

    num_threads = int(options.get("num_threads") or 0)
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
    scheduler = Scheduler(
        generator.batch,
        max_rows=int(options.get("max_rows") or 64),
        window_ms=float(options.get("window_ms") or 0),
    )
    stopping = False  # told to stop: take nothing more, finish what was sent, then exit

    def answer(key: int, future: Future[DecodeResult]) -> None:
        error = future.exception()
        if error is not None:
            conn.send(("failed", [key], f"{type(error).__name__}: {error}"))
            return
        result = future.result()
        samples = [(s.text, s.tokens, s.finished) for s in result.samples]
        conn.send(("done", key, samples, result.stats))

    def receive(timeout: float | None) -> None:
        nonlocal stopping
        while not stopping and conn.poll(timeout):
            message = conn.recv()
            if message[0] == "stop":
                stopping = True
                scheduler.close()
                return
            _, key, fields = message
            scheduler.submit(DecodeRequest(**fields)).add_done_callback(lambda f, key=key: answer(key, f))
            timeout = 0  # then take whatever else is already there, without waiting

    try:
        scheduler.serve(receive)
    except (EOFError, OSError):
        return  # the parent went away


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
