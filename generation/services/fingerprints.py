"""Generated designs' visual fingerprints (core/svg/fingerprint.py): computed by the worker after a
request completed, beside its PNGs (off the request path: the answer never waits for them), and stored, so
`?neighbours=` and the design page's similar panel read them instead of rendering each design again. A
request redelivered after it completed (a worker died first) gets the ones it lacks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

import numpy as np
from django.db import transaction

from core.jobs.models import JobStatus
from core.svg import SvgError
from core.svg.fingerprint import Fingerprint, fingerprint_svg
from generation.models import DesignFingerprint, OutputImage
from generation.services.renders import background_submit

log = logging.getLogger(__name__)


def design_fingerprint_of(svg: str) -> Fingerprint | None:
    """A design's fingerprint, or None when its SVG renders nothing."""
    try:
        return fingerprint_svg(svg)
    except SvgError:
        return None


def design_fingerprint_submit(svg: str) -> Future[Fingerprint | None]:
    """Compute a design's fingerprint in the renderer's threads (alongside its full-size PNG)."""
    return background_submit(design_fingerprint_of, svg)


def stored_fingerprint(row: DesignFingerprint) -> Fingerprint | None:
    """The Fingerprint a stored row holds; None for a design without a rendering."""
    if not row.rendered or row.vector is None:
        return None
    return Fingerprint(phash=row.phash, vector=np.frombuffer(bytes(row.vector), dtype=np.float32))


@transaction.atomic
def design_fingerprint_store(*, image: OutputImage, fingerprint: Fingerprint | None) -> DesignFingerprint:
    """Store (or replace) one SVG design's fingerprint; None records that it has no rendering."""
    if image.file_type != OutputImage.FileType.SVG:
        raise ValueError("Only a design's SVG has a fingerprint.")
    row, _ = DesignFingerprint.objects.update_or_create(
        image=image,
        defaults={
            "rendered": fingerprint is not None,
            "phash": fingerprint.phash if fingerprint else "",
            "vector": fingerprint.vector.astype(np.float32).tobytes() if fingerprint else None,
        },
    )
    return row


def output_fingerprints_compute(*, output_id: Any, svgs: Mapping[int, str] | None = None) -> int:
    """Fingerprint every SVG design of a request that has none yet; returns how many were stored.
    `svgs` (sequence_order -> SVG text) spares reading back the files the caller has just written."""
    images = list(
        OutputImage.objects.filter(
            output_id=output_id, file_type=OutputImage.FileType.SVG, fingerprint__isnull=True
        )
    )
    futures = []
    for image in images:
        svg = (svgs or {}).get(image.sequence_order)
        if svg is None:
            with image.file.open("rb") as fh:
                svg = fh.read().decode("utf-8", "replace")
        futures.append((image, design_fingerprint_submit(svg)))
    stored = 0
    for image, future in futures:
        try:
            design_fingerprint_store(image=image, fingerprint=future.result())
            stored += 1
        except Exception:  # a design without a fingerprint is computed on demand; never fail the request
            log.warning(
                "design %s/%s: fingerprint not stored", output_id, image.sequence_order, exc_info=True
            )
    return stored


def design_fingerprints_backfill(*, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Fingerprint the designs of completed requests that have none (those completed before fingerprints
    were stored, or whose worker died first); request by request. Returns how many were stored."""
    lacking = OutputImage.objects.filter(
        file_type=OutputImage.FileType.SVG, fingerprint__isnull=True, output__status=JobStatus.COMPLETED
    )
    total = lacking.count()
    done = 0
    for output_id in lacking.values_list("output_id", flat=True).distinct().order_by("output_id").iterator():
        done += output_fingerprints_compute(output_id=output_id)
        if on_progress:
            on_progress(done, max(total, done))
    return done
