"""Search by picture: queue and run the index build, and find the examples nearest a picture."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction

from core.jobs.kinds import job_enqueue
from core.jobs.lifecycle import job_finish
from core.jobs.models import ACTIVE, JobStatus
from core.svg.fingerprint import Fingerprint
from training.models import ExampleFingerprint, SimilarityIndexBuild, TrainingExample
from training.services import similarity_index
from training.services.fingerprints import example_fingerprints_compute, fingerprint_or_none, vector_of

log = logging.getLogger(__name__)
FINGERPRINT_SHARE = 0.9  # of a build's progress: the rest is writing the index


@dataclass(frozen=True)
class Neighbour:
    example: TrainingExample
    similarity: float
    near_duplicate: bool


@transaction.atomic
def similarity_index_build_request(*, reason: str) -> SimilarityIndexBuild:
    """Queue a build, or return the one already pending or running (one at a time is enough)."""
    active = SimilarityIndexBuild.objects.select_for_update().filter(status__in=ACTIVE).first()
    if active is not None:
        return active
    build = SimilarityIndexBuild(reason=reason[:200], backend=similarity_index.backend())
    build.full_clean()
    build.save()
    job_enqueue(build)
    return build


def similarity_index_build_execute(*, build: SimilarityIndexBuild) -> None:
    def on_progress(done: int, total: int) -> None:
        progress = FINGERPRINT_SHARE * done / max(total, 1)
        SimilarityIndexBuild.objects.filter(pk=build.pk).update(
            examples_fingerprinted=done, progress=progress
        )

    try:
        done = example_fingerprints_compute(on_progress=on_progress)
        indexed = similarity_index.index_write() if similarity_index.backend() == "usearch" else 0
    except Exception as exc:
        log.exception("similarity index build %s failed", build.pk)
        job_finish(build, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        return
    live = ExampleFingerprint.objects.filter(example__deleted_at__isnull=True)
    job_finish(
        build,
        JobStatus.COMPLETED,
        examples_fingerprinted=done,
        examples_indexed=indexed or live.filter(rendered=True).count(),
        examples_without_rendering=live.filter(rendered=False).count(),
    )


def neighbours_of_vector(
    vector: np.ndarray, *, k: int, exclude: set | None = None, threshold: float | None = None
) -> list[Neighbour]:
    """The k live examples whose renderings are nearest `vector`, most similar first. Raises
    similarity_index.IndexMissing (the caller answers 503 and queues a build)."""
    exclude = exclude or set()
    hits = similarity_index.index_search(vector, k + len(exclude) + 4)
    sims = {hit.key: hit.similarity for hit in hits}
    rows = ExampleFingerprint.objects.filter(key__in=sims, example__deleted_at__isnull=True).select_related(
        "example", "example__style_guide"
    )
    cut = settings.NEAR_DUPLICATE_SIMILARITY if threshold is None else threshold
    found = [
        Neighbour(row.example, round(sims[row.key], 4), sims[row.key] >= cut)
        for row in rows
        if row.example_id not in exclude
    ]
    found.sort(key=lambda n: -n.similarity)
    return found[:k]


def example_fingerprint(example: TrainingExample) -> Fingerprint | None:
    """The stored fingerprint when it is current, else computed now (not stored: the build does that)."""
    row = ExampleFingerprint.objects.filter(example=example, content_hash=example.content_hash).first()
    if row is not None:
        if not row.rendered:
            return None
        return Fingerprint(phash=row.phash, vector=vector_of(row))
    return fingerprint_or_none(example.svg_content)


def neighbours_of_example(example: TrainingExample, *, k: int) -> list[Neighbour] | None:
    """The examples nearest this one's rendering; None when it has no rendering."""
    fp = example_fingerprint(example)
    if fp is None:
        return None
    return neighbours_of_vector(fp.vector, k=k, exclude={example.pk})


def neighbours_of_svg(svg: str, *, k: int) -> list[Neighbour] | None:
    fp = fingerprint_or_none(svg)
    return None if fp is None else neighbours_of_vector(fp.vector, k=k)
