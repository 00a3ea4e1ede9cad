"""The model side of generation: loaded Generators, cached per process, one lock per model.

`get_generator(model)` is the injection point: tests (and the bench) monkeypatch it with a fake whose
`generate` returns fixed or hostile SVG. Real Generators are loaded through the registry's local cache
and kept in a small per-process LRU keyed by the model version's id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

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


_cache: OrderedDict[str, GeneratorLike] = OrderedDict()
_cache_lock = threading.Lock()
_load_locks: dict[str, threading.Lock] = {}
_run_locks: dict[str, threading.Lock] = {}


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


def model_lock(model_id: object) -> threading.Lock:
    """One batch at a time per model in this process: requests arriving meanwhile join the next batch."""
    with _cache_lock:
        return _run_locks.setdefault(str(model_id), threading.Lock())


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
