"""PNG renders of stored designs: in the renderer's low-priority processes while a request completes,
on demand for a download that comes first, and again for a request redelivered after it completed."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from auditlog.context import disable_auditlog
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from core.jobs.models import JobStatus
from core.models import clean_new_row
from core.svg import SvgError, clean_svg, render_png
from core.svg.render_pool import RENDER_WORKERS
from generation.models import DesignOutput, OutputImage

log = logging.getLogger(__name__)
T = TypeVar("T")

_png_pool: ThreadPoolExecutor | None = None
_png_pool_lock = threading.Lock()


def png_render_submit(svg: str) -> Future[bytes]:
    """Render a design's full-size PNG in the background (it was checked visible already)."""
    return _png_threads().submit(render_png, svg, size=settings.GENERATION_PNG_SIZE, check_blank=False)


def background_submit(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run `fn` in the same threads as the PNGs (work that waits on core.svg's render processes)."""
    return _png_threads().submit(fn, *args)


def _png_threads() -> ThreadPoolExecutor:
    """Threads that wait on core.svg's render processes, one per process."""
    global _png_pool
    with _png_pool_lock:
        if _png_pool is None:
            _png_pool = ThreadPoolExecutor(max_workers=RENDER_WORKERS, thread_name_prefix="atelier-png")
        return _png_pool


def design_png_ensure(*, output: DesignOutput, sequence_order: int) -> OutputImage | None:
    """The PNG of one design of a completed request, rendered from its stored SVG and stored the first
    time it is asked for when the worker has not stored it (yet). None when the design does not exist.
    Raises SvgError when the SVG cannot be rendered."""
    images = {
        image.file_type: image
        for image in OutputImage.objects.filter(output=output, sequence_order=sequence_order)
    }
    if "png" in images or "svg" not in images:
        return images.get("png")
    with images["svg"].file.open("rb") as fh:
        svg = clean_svg(fh.read()).svg  # stored SVG is clean; cleaning again trusts nothing
    return design_png_store(
        output=output, sequence_order=sequence_order, png=render_png(svg, size=settings.GENERATION_PNG_SIZE)
    )


def design_png_store(*, output: DesignOutput, sequence_order: int, png: bytes) -> OutputImage | None:
    """Store one design's PNG; when another worker or download stored it first, theirs stands."""
    image = OutputImage(
        output=output,
        file_type=OutputImage.FileType.PNG,
        file_size=len(png),
        sequence_order=sequence_order,
        style_attributes={"size": settings.GENERATION_PNG_SIZE},
    )
    image.file.save("design.png", ContentFile(png), save=False)
    try:
        clean_new_row(image, trusted=("output",))
        with transaction.atomic(), disable_auditlog():
            image.save()
    except IntegrityError:
        with contextlib.suppress(Exception):
            default_storage.delete(image.file.name)
        return OutputImage.objects.filter(
            output=output, sequence_order=sequence_order, file_type=OutputImage.FileType.PNG
        ).first()
    except BaseException:
        with contextlib.suppress(Exception):
            default_storage.delete(image.file.name)
        raise
    return image


def output_pngs_render(*, output_id: Any) -> None:
    """Render and store every design's PNG of a completed request that does not have one yet."""
    output = DesignOutput.objects.filter(pk=output_id, status=JobStatus.COMPLETED).first()
    if output is None:
        return
    seqs = (
        OutputImage.objects.filter(output=output, file_type=OutputImage.FileType.SVG)
        .exclude(
            sequence_order__in=OutputImage.objects.filter(
                output=output, file_type=OutputImage.FileType.PNG
            ).values("sequence_order")
        )
        .values_list("sequence_order", flat=True)
    )
    for seq in seqs:
        try:
            design_png_ensure(output=output, sequence_order=seq)
        except SvgError:
            log.warning("design %s/%s could not be rendered to PNG", output.pk, seq, exc_info=True)
