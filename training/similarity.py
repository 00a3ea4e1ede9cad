"""Search by picture for the other apps (generation's API and admin): the one door to it, as the registry
is to models. Reads neighbours; on a missing index, queues a build (the caller answers 503 or says so)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from training.services.similarity import (
    Neighbour,
    neighbours_of_example,
    neighbours_of_svg,
    neighbours_of_vector,
    similarity_index_build_request,
)
from training.services.similarity_index import IndexMissing

__all__ = [
    "IndexMissing",
    "Neighbour",
    "index_missing_queue_build",
    "neighbours_of_example",
    "neighbours_of_svg",
    "neighbours_of_vector",
    "similar_panel_context",
]


def index_missing_queue_build(reason: str) -> None:
    similarity_index_build_request(reason=reason)


def similar_panel_context(find: Callable[[], list[Neighbour] | None]) -> dict[str, Any]:
    """What admin/catalog/_similar_panel.html shows: `find()` returns neighbours, or None when the design
    has no rendering; a missing index queues a build and says so."""
    try:
        found = find()
    except IndexMissing:
        index_missing_queue_build("the admin's similar panel found no index")
        return {"similar_error": "The similarity index is not built yet: a build has been queued."}
    if found is None:
        return {"similar_error": "This design has no rendering, so nothing can look like it."}
    return {"similar": found}
