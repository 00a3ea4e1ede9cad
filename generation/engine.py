"""The model side of generation: loaded Generators, cached per process, and one decode loop per model.

`get_generator(model)` is the injection point: tests (and the bench) monkeypatch it with a fake whose
`generate` returns fixed or hostile SVG. Real Generators are loaded through the registry's local cache
and kept in a small per-process LRU keyed by the model version's id. `get_scheduler(model)` is the
model's decode loop (continuous batching): every worker thread's request joins the running batch.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from slm.decode.sampling import DecodeRequest
from slm.decode.serving import BatchLoop, DecodeResult

if TYPE_CHECKING:
    from training.models import SLMModel


class SampleLike(Protocol):
    text: str
    tokens: int


class GeneratorLike(Protocol):
    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        seed: int = 0,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        context: str | None = None,
    ) -> list[list[SampleLike]]: ...


log = logging.getLogger(__name__)

_cache: OrderedDict[str, GeneratorLike] = OrderedDict()
_cache_lock = threading.Lock()
_load_locks: dict[str, threading.Lock] = {}


def load_generator(model: SLMModel) -> GeneratorLike:
    """Download (once per machine) a model version's artifacts and serve them: from a decode process of
    its own (GENERATION_DECODE_PROCESS, the default), or loaded in this process."""
    from training.artifacts import local_model_dir

    if not model.storage_path:
        raise LookupError(f"model version {model} has no stored artifacts")
    model_dir = local_model_dir(storage_path=model.storage_path, cache_key=str(model.pk))
    threads = settings.GENERATION_DECODE_THREADS
    options = {"engine": settings.GENERATION_ENGINE, "compute_type": model.compute_type or "float32"}
    if settings.GENERATION_DECODE_PROCESS:
        from slm.decode.serving import DecodeServer

        return DecodeServer(
            model_dir,
            num_threads=threads,
            max_rows=settings.GENERATION_MAX_BATCH_ROWS,
            window_ms=settings.GENERATION_BATCH_WINDOW_MS,
            **options,
        )
    from slm.decode.sampling import Generator

    return Generator(model_dir, num_threads=threads or None, **options)


def engine_info(scheduler: Any) -> dict[str, Any]:
    """Which engine decoded on a scheduler, in which compute type, and why not CTranslate2 if it fell
    back (empty for test fakes)."""
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


def get_generator(model: SLMModel) -> GeneratorLike:
    """The loaded Generator for a model version, from this process's LRU cache."""
    key = str(model.pk)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        load_lock = _load_locks.setdefault(key, threading.Lock())
    with load_lock:  # two threads asking for the same model load it once
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        generator = load_generator(model)
        with _cache_lock:
            _cache[key] = generator
            _cache.move_to_end(key)
            evicted = []
            while len(_cache) > max(1, settings.GENERATION_MODEL_CACHE_SIZE):
                evicted.append(_cache.popitem(last=False)[1])
        for old in evicted:  # outside the lock: a decode process may take seconds to finish
            _close(old)
        return generator


def _close(generator: Any) -> None:
    close = getattr(generator, "close", None)
    if callable(close):
        close()  # a decode process: stop it


def clear_cache() -> None:
    with _cache_lock:
        generators = list(_cache.values())
        _cache.clear()
        schedulers = list(_schedulers.values())
        _schedulers.clear()
    for generator in generators:
        _close(generator)
    for scheduler in schedulers:
        scheduler.close()


# --- the decode loop --------------------------------------------------------------------------------


class _GenerateOnly:
    """A continuous batch for generators that only have `generate()` (test fakes): each step runs
    everything added since the last one, one `generate` call per set of decoding options."""

    def __init__(self, generator: GeneratorLike) -> None:
        self.generator = generator
        self.pending: list[tuple[Hashable, DecodeRequest]] = []

    def __bool__(self) -> bool:
        return bool(self.pending)

    def add(self, items: Sequence[tuple[Hashable, DecodeRequest]]) -> dict[Hashable, list[Any]]:
        self.pending += items
        return {}

    def step(self) -> dict[Hashable, list[Any]]:
        groups: dict[tuple[Any, ...], list[tuple[Hashable, DecodeRequest]]] = {}
        for key, job in self.pending:
            seed = job.seed if job.temperature > 0 else 0  # greedy decoding ignores the seed
            options = (job.n, seed, job.temperature, job.max_new_tokens, job.context)
            groups.setdefault(options, []).append((key, job))
        self.pending = []
        done: dict[Hashable, list[Any]] = {}
        for (n, seed, temperature, max_new_tokens, context), items in groups.items():
            results = self.generator.generate(
                [job.prompt for _, job in items],
                n=n,
                seed=seed,
                temperature=temperature,
                max_new_tokens=max_new_tokens,
                context=context,
            )
            if len(results) != len(items):
                raise RuntimeError(f"generator returned {len(results)} results for {len(items)} prompts")
            done.update({key: list(r) for (key, _), r in zip(items, results, strict=True)})
        return done


class SchedulerLike(Protocol):
    def submit(self, request: DecodeRequest) -> Future[DecodeResult]: ...


class Scheduler:
    """A decode loop on a thread of this process, for generators loaded here (test fakes, or with
    GENERATION_DECODE_PROCESS off). Worker threads `submit()` and wait on the future; the loop adds
    whatever arrived to the running batch between two steps (see slm.decode.serving.BatchLoop)."""

    def __init__(self, generator: GeneratorLike, *, max_rows: int) -> None:
        self.generator = generator
        make = getattr(generator, "batch", None)
        self._loop = BatchLoop(make if callable(make) else lambda: _GenerateOnly(generator), max_rows)
        self._cond = threading.Condition()
        self._waiting: deque[tuple[Hashable, DecodeRequest, float]] = deque()
        self._futures: dict[Hashable, Future[DecodeResult]] = {}
        self._keys = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="atelier-decode", daemon=True)
        self._thread.start()

    def submit(self, request: DecodeRequest) -> Future[DecodeResult]:
        future: Future[DecodeResult] = Future()
        future.set_running_or_notify_cancel()  # a request in the batch cannot be taken back
        with self._cond:
            if self._closed:
                raise RuntimeError("this model's decode loop was stopped")
            key = next(self._keys)
            self._futures[key] = future
            self._waiting.append((key, request, time.perf_counter()))
            self._cond.notify()
        return future

    def close(self) -> None:
        """Stop taking requests; the loop ends once what it holds is done."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        # GENERATION_DECODE_THREADS for a Generator loaded here (torch's setting is per process).
        threads = getattr(self.generator, "threads", None)
        with threads() if callable(threads) else contextlib.nullcontext():
            self._serve()

    def _serve(self) -> None:
        loop = self._loop
        while True:
            with self._cond:
                while not self._waiting and not loop:
                    if self._closed:
                        return
                    self._cond.wait()
                items = loop.take(self._waiting)
            try:  # outside the lock: submit() never waits for a forward pass
                loop.admit(items)
                done = loop.step()
            except BaseException as exc:  # noqa: BLE001 - every waiting request hears of it, the loop goes on
                log.exception("decode step failed; failing the %d requests in flight", len(loop.flight))
                for key in loop.reset():
                    self._futures.pop(key).set_exception(exc)
                continue
            for key, result in done:
                self._futures.pop(key).set_result(result)


_schedulers: dict[str, Scheduler] = {}


def get_scheduler(model: SLMModel) -> SchedulerLike:
    """Where a model version's requests are decoded: its decode process (a DecodeServer, which is its
    own scheduler), or a decode loop on a thread here for a generator loaded in this process."""
    generator = get_generator(model)
    if callable(getattr(generator, "submit", None)):
        return generator  # type: ignore[return-value]
    key = str(model.pk)
    with _cache_lock:
        scheduler = _schedulers.get(key)
        if scheduler is not None and scheduler.generator is generator:
            return scheduler
        if scheduler is not None:  # the model was evicted and loaded again, or a test swapped it
            scheduler.close()
        scheduler = _schedulers[key] = Scheduler(generator, max_rows=settings.GENERATION_MAX_BATCH_ROWS)
        return scheduler
