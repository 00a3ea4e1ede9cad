"""The model side of generation: each model version's scheduler (slm.decode.interface), the one decode
loop that batches the requests of every user of that version, cached per process.

A scheduler runs the loop in a decode process of the version's own (GENERATION_DECODE_PROCESS, the
default) or on a thread here. Versions are resolved through the registry (training.artifacts' local
cache); nothing here converts a model for CTranslate2: that happens when a version is registered or an
alias moves to it (training.services.registry), and a version without a conversion is served by the
transformers fallback, the reason recorded with each request's engine.

`get_generator(model)` is the injection point: tests (and the bench) monkeypatch it with a stand-in
whose `generate` returns fixed or hostile SVG; `get_scheduler` gives such a stand-in a loop here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from django.conf import settings

from slm.decode.interface import SchedulerLike, open_scheduler, scheduler_for

if TYPE_CHECKING:
    from training.models import SLMModel

_cache: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # version id -> (its row's stamp, scheduler)
_cache_lock = threading.Lock()
_load_locks: dict[str, threading.Lock] = {}
_wrapped: dict[str, SchedulerLike] = {}  # version id -> the loop around a stand-in generator


def load_generator(model: SLMModel) -> SchedulerLike:
    """Download (once per machine, and whatever a later conversion added) a version's artifacts and
    start its scheduler."""
    from training.artifacts import external_generator, local_model_dir

    if getattr(model, "is_external", False):  # an endpoint's client, with its own pool of calls
        return external_generator(model)
    if not model.storage_path:
        raise LookupError(f"model version {model} has no stored artifacts")
    model_dir = local_model_dir(storage_path=model.storage_path, cache_key=str(model.pk), refresh=True)
    return open_scheduler(
        model_dir,
        own_process=settings.GENERATION_DECODE_PROCESS,
        engine=settings.GENERATION_ENGINE,
        compute_type=model.compute_type or "float32",
        threads=settings.GENERATION_DECODE_THREADS,
        max_rows=settings.GENERATION_MAX_BATCH_ROWS,
        window_ms=settings.GENERATION_BATCH_WINDOW_MS,
    )


def _stamp(model: SLMModel) -> Any:
    # A saved row (a conversion added to its artifacts, another compute type) is served afresh.
    return getattr(model, "updated_at", None)


def get_generator(model: SLMModel) -> Any:
    """The version's loaded scheduler, from this process's LRU cache (loaded again once its row
    changed since)."""
    key, stamp = str(model.pk), _stamp(model)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None and entry[0] == stamp:
            _cache.move_to_end(key)
            return entry[1]
        load_lock = _load_locks.setdefault(key, threading.Lock())
    with load_lock:  # two threads asking for the same model load it once
        with _cache_lock:
            entry = _cache.get(key)
            if entry is not None and entry[0] == stamp:
                return entry[1]
        generator = load_generator(model)
        with _cache_lock:
            old = _cache.pop(key, None)
            _cache[key] = (stamp, generator)
            evicted = [old[1]] if old is not None else []
            while len(_cache) > max(1, settings.GENERATION_MODEL_CACHE_SIZE):
                evicted.append(_cache.popitem(last=False)[1][1])
        for gone in evicted:  # outside the lock: a decode process may take seconds to finish
            _close(gone)
        return generator


def _close(scheduler: Any) -> None:
    close = getattr(scheduler, "close", None)
    if callable(close):
        close()  # a decode process or a loop here: finish what it holds, then stop


def clear_cache() -> None:
    with _cache_lock:
        schedulers = [s for _, s in _cache.values()] + list(_wrapped.values())
        _cache.clear()
        _wrapped.clear()
    for scheduler in schedulers:
        _close(scheduler)


def get_scheduler(model: SLMModel) -> SchedulerLike:
    """Where a version's requests are decoded, batched with every other user's: its scheduler, or a loop
    here around a stand-in generator that only has `generate()`."""
    generator = get_generator(model)
    if callable(getattr(generator, "submit", None)):
        return generator  # type: ignore[no-any-return]
    key = str(model.pk)
    with _cache_lock:
        scheduler = _wrapped.get(key)
        if scheduler is not None and getattr(scheduler, "generator", None) is generator:
            return scheduler
        if scheduler is not None:  # a test swapped the generator
            scheduler.close()
        scheduler = _wrapped[key] = scheduler_for(generator, max_rows=settings.GENERATION_MAX_BATCH_ROWS)
        return scheduler
