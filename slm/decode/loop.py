"""The one decode loop: requests of every user of a model join one continuous batch.

`BatchLoop` is the bookkeeping around a continuous batch (a Generator's `batch()`: slm.decode.ct2_batch
or slm.decode.hf_batch): admit requests between steps while their rows fit, step, hand back what finished
with how it was batched. `Scheduler` drives it: callers `submit()` a DecodeRequest from any thread and wait
on the Future; every request waiting when a step ends joins the next one (`window_ms` > 0 also waits that
long after the first arrival into an idle loop, for more to join). The same Scheduler runs in the decode
process (slm.decode.serving, fed from its pipe) and on a thread of the caller's process (a Generator
loaded there, or a test's stand-in that only has `generate()`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from slm.decode.types import DecodeRequest, DecodeResult

log = logging.getLogger(__name__)
Waiting = tuple[Hashable, DecodeRequest, float]  # key, request, submitted at (perf_counter)


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

    def take(self, waiting: deque[Waiting]) -> list[Waiting]:
        """Pop requests from the front of `waiting` while their rows fit (always one into an empty
        batch), for admit(); the rest wait for a later step."""
        items: list[Waiting] = []
        rows = len(getattr(self.batch, "rows", ())) if self.batch else 0
        while waiting and (not rows or rows + waiting[0][1].n <= self.max_rows):
            rows += waiting[0][1].n
            items.append(waiting.popleft())
        return items

    def admit(self, items: Sequence[Waiting]) -> None:
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


class GenerateOnlyBatch:
    """A continuous batch for generators that only have `generate()` (test stand-ins): each step runs
    everything added since the last one, one `generate` call per set of decoding options."""

    def __init__(self, generator: Any) -> None:
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


class Scheduler:
    """The decode loop of one model (see the module docstring). Thread-safe `submit()`; `serve()` runs
    the loop in the calling thread, `start()` on a thread of its own."""

    def __init__(
        self,
        new_batch: Callable[[], Any],
        *,
        max_rows: int = 64,
        window_ms: float = 0.0,
        context: Callable[[], Any] | None = None,
    ) -> None:
        self._loop = BatchLoop(new_batch, max_rows)
        self._window_s = max(0.0, float(window_ms or 0)) / 1000
        self._context = context or contextlib.nullcontext  # e.g. a Generator's torch threads
        self._cond = threading.Condition()
        self._waiting: deque[Waiting] = deque()
        self._futures: dict[Hashable, Future[DecodeResult]] = {}
        self._keys = itertools.count()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.generator: Any = None  # the generator loaded here that it serves (for_generator)

    @classmethod
    def for_generator(cls, generator: Any, *, max_rows: int, window_ms: float = 0.0) -> Scheduler:
        """A loop on a generator loaded in this process: its own `batch()` (a Generator), or one
        `generate()` call per step (a stand-in), in its torch threads when it has them."""
        make = getattr(generator, "batch", None)
        threads = getattr(generator, "threads", None)
        scheduler = cls(
            make if callable(make) else lambda: GenerateOnlyBatch(generator),
            max_rows=max_rows,
            window_ms=window_ms,
            context=threads if callable(threads) else None,
        )
        scheduler.generator = generator
        return scheduler

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

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self.serve, name="atelier-decode", daemon=True)
        self._thread.start()
        return self

    def serve(self, receive: Callable[[float | None], None] | None = None) -> None:
        """Admit, step and answer until closed and drained. `receive(timeout)`, when given, brings
        requests from outside (the decode process's pipe) to submit(), waiting up to `timeout` seconds
        (None: until one comes or the sender stops); without it, requests come from other threads."""
        with self._context():
            while True:
                if not self._has_work():
                    if self._closed:
                        return
                    self._wait(receive)
                    if self._window_s:  # a collection window: let others arrive before the first call
                        time.sleep(self._window_s)
                if receive is not None:
                    receive(0)  # whatever came meanwhile joins this step
                self.run_once()

    def run_once(self) -> None:
        """One round: admit what waits and fits, one step, answer the requests it finished."""
        loop = self._loop
        with self._cond:
            items = loop.take(self._waiting)
        try:  # outside the lock: submit() never waits for a forward pass
            loop.admit(items)
            done = loop.step()
        except BaseException as exc:  # noqa: BLE001 - every waiting request hears of it, the loop goes on
            log.exception("decode step failed; failing the %d requests in flight", len(loop.flight))
            for key in loop.reset():
                self._pop(key).set_exception(exc)
            return
        for key, result in done:
            self._pop(key).set_result(result)

    def _has_work(self) -> bool:
        with self._cond:
            return bool(self._waiting) or bool(self._loop)

    def _wait(self, receive: Callable[[float | None], None] | None) -> None:
        if receive is not None:
            receive(None)
            return
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()

    def _pop(self, key: Hashable) -> Future[DecodeResult]:
        with self._cond:
            return self._futures.pop(key)
