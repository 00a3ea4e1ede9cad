"""The training examples nearest each generated design's rendering (did the model copy?): for the
generation API's `?neighbours=N` and the "similar" panel on a design's admin page."""

from __future__ import annotations

from typing import Any

from generation.models import DesignOutput, OutputImage
from training.similarity import Neighbour, neighbours_of_svg

MAX_NEIGHBOURS = 10


def design_svg(image: OutputImage) -> str:
    with image.file.open("rb") as fh:
        return fh.read().decode("utf-8", "replace")


def design_neighbours(output: DesignOutput, *, k: int) -> dict[int, list[Neighbour] | None]:
    """Per design (sequence_order): its k nearest examples, or None when it has no rendering. Raises
    training.similarity.IndexMissing. Reads the output's prefetched images."""
    found: dict[int, list[Neighbour] | None] = {}
    for image in output.images.all():
        if image.file_type == "svg":
            found[image.sequence_order] = neighbours_of_svg(design_svg(image), k=k)
    return found


def neighbour_json(n: Neighbour) -> dict[str, Any]:
    return {
        "example": str(n.example.pk),
        "name": n.example.external_id,
        "prompt": n.example.prompt,
        "similarity": n.similarity,
        "near_duplicate": n.near_duplicate,
    }
