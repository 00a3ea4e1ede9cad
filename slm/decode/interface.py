"""What the rest of the platform (generation) needs of decoding, in one place: the request and result
types, a model's scheduler (the one decode loop its requests join, across every user), and what engine
it decodes with. Nothing here converts a model: conversion belongs to registration (slm.decode.ct2).
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from slm.decode.loop import Scheduler
from slm.decode.types import DecodeRequest, DecodeResult

__all__ = ["DecodeRequest", "DecodeResult", "SchedulerLike", "engine_info", "open_scheduler", "scheduler_for"]


class SchedulerLike(Protocol):
    def submit(self, request: DecodeRequest) -> Future[DecodeResult]: ...

    def close(self) -> None: ...


def open_scheduler(
    model_dir: str | Path,
    *,
    own_process: bool,
    engine: str,
    compute_type: str,
    threads: int,
    max_rows: int,
    window_ms: float,
) -> SchedulerLike:
    """A model directory's decode loop: in a decode process of its own (slm.decode.serving), or on a
    thread of this one with the model loaded here."""
    options = {"engine": engine, "compute_type": compute_type}
    if own_process:
        from slm.decode.serving import DecodeServer

        return DecodeServer(model_dir, num_threads=threads, max_rows=max_rows, window_ms=window_ms, **options)
    from slm.decode.sampling import Generator

    generator = Generator(model_dir, num_threads=threads or None, **options)
    return scheduler_for(generator, max_rows=max_rows, window_ms=window_ms)


def scheduler_for(generator: Any, *, max_rows: int, window_ms: float = 0.0) -> Scheduler:
    """A decode loop on a thread of this process for a generator loaded here: a Generator, or a stand-in
    with only `generate()` (tests, the bench)."""
    return Scheduler.for_generator(generator, max_rows=max_rows, window_ms=window_ms).start()


def engine_info(scheduler: Any) -> dict[str, Any]:
    """Which engine decodes on a scheduler, in which compute type, and why not CTranslate2 if it fell
    back (empty for stand-ins)."""
    info = getattr(scheduler, "info", None)  # a DecodeServer: what its process reported when it started
    if not isinstance(info, dict) or "engine" not in info:
        generator = getattr(scheduler, "generator", scheduler)
        if not hasattr(generator, "engine"):
            return {}
        info = {
            "engine": generator.engine,
            "compute_type": generator.compute_type,
            "fallback_reason": generator.fallback_reason,
        }
    out = {"name": info["engine"], "compute_type": info.get("compute_type", "float32")}
    if info.get("fallback_reason"):
        out["fallback_reason"] = info["fallback_reason"]
    return out
