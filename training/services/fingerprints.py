"""Visual fingerprints of training examples (core/svg/fingerprint.py), computed in batches and stored."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from django.db import transaction
from django.db.models import F, Q

from core.svg import SvgError
from core.svg.fingerprint import Fingerprint, fingerprint_svg
from training.models import ExampleFingerprint, TrainingExample

BATCH = 200


def fingerprint_or_none(svg: str) -> Fingerprint | None:
    """An SVG's fingerprint, or None when it has no rendering (unrenderable or blank)."""
    try:
        return fingerprint_svg(svg)
    except SvgError:
        return None


def vector_of(row: ExampleFingerprint) -> np.ndarray:
    return np.frombuffer(bytes(row.vector), dtype=np.float32)


def examples_needing_fingerprints() -> Iterable[TrainingExample]:
    """Live examples with no fingerprint, or one of an SVG they no longer have."""
    stale = Q(fingerprint__isnull=True) | ~Q(fingerprint__content_hash=F("content_hash"))
    return TrainingExample.objects.filter(stale).only("pk", "svg_content", "content_hash").order_by("pk")


def _store(example: TrainingExample, fp: Fingerprint | None) -> None:
    ExampleFingerprint.objects.update_or_create(
        example=example,
        defaults={
            "content_hash": example.content_hash,
            "rendered": fp is not None,
            "phash": fp.phash if fp else "",
            "vector": fp.vector.tobytes() if fp else None,
        },
    )


def example_fingerprints_compute(*, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Fingerprint every example that needs it, BATCH at a time (one transaction each); returns how many."""
    total = examples_needing_fingerprints().count()
    done = 0
    while True:
        batch = list(examples_needing_fingerprints()[:BATCH])
        if not batch:
            return done
        fps = [fingerprint_or_none(example.svg_content) for example in batch]
        with transaction.atomic():
            for example, fp in zip(batch, fps, strict=True):
                _store(example, fp)
        done += len(batch)
        if on_progress:
            on_progress(done, max(total, done))
