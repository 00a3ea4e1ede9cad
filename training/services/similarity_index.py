"""The vector index over examples' fingerprints: built by a background job, read by search by picture.

Backend (`SIMILARITY_INDEX_BACKEND`): `usearch` (default), an HNSW index in one file under the work folder,
memory-mapped by every process that searches; `exact`: numpy over the vectors stored in the database, for
small sets. Either answers (fingerprint key, cosine similarity) pairs. A deployment on PostgreSQL with
pgvector would store the vector in a `vector(256)` column with an HNSW index and need no file (README).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from training.models import ExampleFingerprint

NDIM = 256
_lock = threading.Lock()
_cache: dict[str, tuple[float, object]] = {}


class IndexMissing(Exception):
    """No built index to search: a rebuild has been queued."""


@dataclass(frozen=True)
class Hit:
    key: int
    similarity: float


def index_path() -> Path:
    return Path(settings.WORK_DIR) / "similarity" / "examples.usearch"


def backend() -> str:
    return settings.SIMILARITY_INDEX_BACKEND


def _rendered_rows():
    return ExampleFingerprint.objects.filter(rendered=True, example__deleted_at__isnull=True)


def index_write(*, batch: int = 10_000) -> int:
    """Write the index afresh from the stored vectors (to a temporary file, then renamed into place so a
    reader never sees half of it); returns how many vectors it holds."""
    from usearch.index import Index

    index = Index(ndim=NDIM, metric="cos", dtype="f16")
    count = 0
    keys: list[int] = []
    vectors: list[np.ndarray] = []
    for key, raw in _rendered_rows().values_list("key", "vector").iterator(chunk_size=batch):
        keys.append(key)
        vectors.append(np.frombuffer(bytes(raw), dtype=np.float32))
        if len(keys) >= batch:
            index.add(np.array(keys, dtype=np.uint64), np.stack(vectors))
            count += len(keys)
            keys, vectors = [], []
    if keys:
        index.add(np.array(keys, dtype=np.uint64), np.stack(vectors))
        count += len(keys)
    path = index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    index.save(str(tmp))
    os.replace(tmp, path)
    return count


def _load():
    from usearch.index import Index

    path = index_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise IndexMissing from None
    with _lock:
        cached = _cache.get(str(path))
        if cached and cached[0] == mtime:
            return cached[1]
        index = Index.restore(str(path), view=True)
        if index is None:
            raise IndexMissing
        _cache[str(path)] = (mtime, index)
        return index


def index_search(vector: np.ndarray, k: int) -> list[Hit]:
    """The k nearest fingerprints to `vector`, most similar first. Raises IndexMissing."""
    if backend() == "exact":
        rows = list(_rendered_rows().values_list("key", "vector"))
        if not rows:
            raise IndexMissing
        matrix = np.stack([np.frombuffer(bytes(raw), dtype=np.float32) for _, raw in rows])
        sims = matrix @ vector
        order = np.argsort(-sims)[:k]
        return [Hit(int(rows[i][0]), float(sims[i])) for i in order]
    index = _load()
    if len(index) == 0:
        return []
    found = index.search(vector.astype(np.float32), min(k, len(index)))
    return [Hit(int(key), 1.0 - float(dist)) for key, dist in zip(found.keys, found.distances, strict=True)]


def index_exists() -> bool:
    return backend() == "exact" or index_path().exists()
