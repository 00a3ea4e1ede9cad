"""The training examples nearest each generated design's rendering (did the model copy?): for the
generation API's `?neighbours=N` and the "similar" panel on a design's admin page. Each design's stored
fingerprint is used (generation.services.fingerprints, written by the worker); one missing (a request
completed before fingerprints were stored, or whose worker has not stored it yet) is computed now."""

from __future__ import annotations

from typing import Any

from core.svg.fingerprint import Fingerprint
from generation.models import DesignFingerprint, DesignOutput, OutputImage
from generation.services.fingerprints import design_fingerprint_of, stored_fingerprint
from training.similarity import Neighbour, neighbours_of_vector

MAX_NEIGHBOURS = 10


def design_svg(image: OutputImage) -> str:
    with image.file.open("rb") as fh:
        return fh.read().decode("utf-8", "replace")


def design_fingerprints(output: DesignOutput) -> dict[int, Fingerprint | None]:
    """Per SVG design (sequence_order): its fingerprint, stored or computed now; None without a rendering.
    One query for the stored ones; reads the output's prefetched images."""
    svgs = [image for image in output.images.all() if image.file_type == OutputImage.FileType.SVG]
    stored = {row.image_id: row for row in DesignFingerprint.objects.filter(image__in=[i.pk for i in svgs])}
    found: dict[int, Fingerprint | None] = {}
    for image in svgs:
        row = stored.get(image.pk)
        found[image.sequence_order] = (
            stored_fingerprint(row) if row is not None else design_fingerprint_of(design_svg(image))
        )
    return found


def neighbours_of_fingerprint(fp: Fingerprint | None, *, k: int) -> list[Neighbour] | None:
    return None if fp is None else neighbours_of_vector(fp.vector, k=k)


def design_neighbours(output: DesignOutput, *, k: int) -> dict[int, list[Neighbour] | None]:
    """Per design (sequence_order): its k nearest examples, or None when it has no rendering. Raises
    training.similarity.IndexMissing."""
    return {seq: neighbours_of_fingerprint(fp, k=k) for seq, fp in design_fingerprints(output).items()}


def neighbour_json(n: Neighbour) -> dict[str, Any]:
    return {
        "example": str(n.example.pk),
        "name": n.example.external_id,
        "prompt": n.example.prompt,
        "similarity": n.similarity,
        "near_duplicate": n.near_duplicate,
    }
