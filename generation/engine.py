"""The model side of generation: loaded Generators, cached per process, and one decode loop per model.

`get_generator(model)` is the injection point: tests (and the bench) monkeypatch it with a fake whose
`generate` returns fixed or hostile SVG. Real Generators are loaded through the registry's local cache
and kept in a small per-process LRU keyed by the model version's id. `get_scheduler(model)` is the
model's decode loop (continuous batching): every worker thread's request joins the running batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

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


def cache_size() -> int:
    return int(getattr(settings, "GENERATION_MODEL_CACHE_SIZE", 2))


def load_generator(model: SLMModel) -> GeneratorLike:
    """Download (once per machine) and load a model version's artifacts."""
    from training.ml.sampling import Generator
    from training.registry import local_model_dir

    if not model.storage_path:
        raise LookupError(f"model version {model} has no stored artifacts")
    model_dir = local_model_dir(storage_path=model.storage_path, cache_key=str(model.pk))
    return Generator(model_dir)


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
            while len(_cache) > max(1, cache_size()):
                _cache.popitem(last=False)
        return generator


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        for scheduler in _schedulers.values():
            scheduler.close()
        _schedulers.clear()


# --- the decode loop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodeJob:
    """What one request asks of the model (see training.ml.sampling.DecodeRequest)."""

    prompt: str
    n: int
    seed: int
    temperature: float
    max_new_tokens: int
    context: str | None


@dataclass
class DecodeResult:
    samples: list[Any]
    stats: dict[str, int]  # batch: most requests that shared a step with it; steps; queued_ms; decode_ms


@dataclass
class _InFlight:
    future: Future[DecodeResult]
    submitted: float
    admitted: float = 0.0
    peak: int = 1
    steps: int = 0


class _GenerateOnly:
    """A continuous batch for generators that only have `generate()` (test fakes, older models): each
    step runs everything added since the last one, one `generate` call per set of decoding options."""

    def __init__(self, generator: GeneratorLike) -> None:
        self.generator = generator
        self.pending: list[tuple[Hashable, DecodeJob]] = []

    def __bool__(self) -> bool:
        return bool(self.pending)

    def add(self, items: Sequence[tuple[Hashable, DecodeJob]]) -> dict[Hashable, list[Any]]:
        self.pending += items
        return {}

    def step(self) -> dict[Hashable, list[Any]]:
        groups: dict[tuple[Any, ...], list[tuple[Hashable, DecodeJob]]] = {}
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


class Scheduler:
    """One decode loop per loaded model and process (iteration-level batching).

    Worker threads `submit()` their request and wait on the future; the loop's thread adds whatever
    arrived to the running batch between two steps, so concurrent requests share every forward pass
    and a request never waits for another one to finish. The future resolves with the request's samples
    the step its last candidate ends; post-processing happens back in the submitting thread, so the
    model never waits for the database or the renderer.
    """

    def __init__(self, generator: GeneratorLike, *, max_rows: int) -> None:
        self.generator = generator
        self.max_rows = max(1, max_rows)
        self._cond = threading.Condition()
        self._queue: deque[tuple[DecodeJob, _InFlight]] = deque()
        self._flight: dict[Hashable, _InFlight] = {}
        self._closed = False
        self.steps = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._loop, name="atelier-decode", daemon=True)
        self._thread.start()

    def submit(self, job: DecodeJob) -> Future[DecodeResult]:
        flight = _InFlight(future=Future(), submitted=time.perf_counter())
        with self._cond:
            if self._closed:
                raise RuntimeError("this model's decode loop was stopped")
            self._queue.append((job, flight))
            self._cond.notify()
        return flight.future

    def close(self) -> None:
        """Stop taking requests; the loop ends once what it holds is done."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _new_batch(self) -> Any:
        make = getattr(self.generator, "batch", None)
        return make() if callable(make) else _GenerateOnly(self.generator)

    def _admit(self, batch: Any) -> list[tuple[Hashable, DecodeJob]]:
        """Take queued jobs while their rows fit (always one into an empty batch). Holds the lock."""
        rows = len(getattr(batch, "rows", ())) if batch else 0
        items = []
        while self._queue:
            job, flight = self._queue[0]
            if rows and rows + job.n > self.max_rows:
                break
            self._queue.popleft()
            if not flight.future.set_running_or_notify_cancel():
                continue
            flight.admitted = time.perf_counter()
            self._flight[id(flight)] = flight
            items.append((id(flight), job))
            rows += job.n
        return items

    def _loop(self) -> None:
        batch = self._new_batch()
        while True:
            with self._cond:
                while not self._queue and not batch:
                    if self._closed:
                        return
                    self._cond.wait()
                items = self._admit(batch)
            try:
                done = batch.add(items) if items else {}
                done.update(batch.step())
            except BaseException as exc:  # noqa: BLE001 - every waiting request hears of it, the loop goes on
                log.exception("decode step failed; failing the %d requests in flight", len(self._flight))
                for flight in self._flight.values():
                    flight.future.set_exception(exc)
                self._flight.clear()
                batch = self._new_batch()
                continue
            self.steps += 1
            sharing = len(self._flight)
            self.largest_batch = max(self.largest_batch, sharing)
            for flight in self._flight.values():
                flight.steps += 1
                flight.peak = max(flight.peak, sharing)
            now = time.perf_counter()
            for key, samples in done.items():
                flight = self._flight.pop(key)
                stats = {
                    "size": flight.peak,
                    "steps": flight.steps,
                    "queued_ms": round((flight.admitted - flight.submitted) * 1000),
                    "generate_ms": round((now - flight.admitted) * 1000),
                }
                flight.future.set_result(DecodeResult(samples=samples, stats=stats))


_schedulers: dict[str, Scheduler] = {}


def get_scheduler(model: SLMModel) -> Scheduler:
    """This process's decode loop for a model version (started on first use, on the cached Generator)."""
    generator = get_generator(model)
    key = str(model.pk)
    with _cache_lock:
        scheduler = _schedulers.get(key)
        if scheduler is not None and scheduler.generator is generator:
            return scheduler
        if scheduler is not None:  # the model was evicted and loaded again, or a test swapped it
            scheduler.close()
        scheduler = _schedulers[key] = Scheduler(
            generator, max_rows=int(getattr(settings, "GENERATION_MAX_BATCH_ROWS", 64))
        )
        return scheduler
