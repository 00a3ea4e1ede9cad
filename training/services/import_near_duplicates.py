"""At import: each new row's nearest existing example, by picture. A row at or above
NEAR_DUPLICATE_SIMILARITY is a near-duplicate: reported in the import's row report, and kept or skipped as
the import's `near_duplicates` choice says. The new rows' fingerprints are stored as they are computed,
so the index build that follows the import has only to write the index."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from training.models import ExampleFingerprint, ImportBatch, TrainingExample
from training.services import similarity_index
from training.services.fingerprints import fingerprint_or_none
from training.services.similarity import neighbours_of_vector

REPORT_CAP = 1000


class NearDuplicateCheck:
    def __init__(self, batch: ImportBatch) -> None:
        self.batch = batch
        self.skip = batch.near_duplicates == ImportBatch.NearDuplicates.SKIP
        self.enabled = settings.IMPORT_NEAR_DUPLICATE_CHECK
        self.found: list[dict[str, Any]] = []
        self.count = 0
        self.skipped = 0
        self.no_index = False
        self._vectors: dict[int, Any] = {}  # id(example) -> fingerprint, until stored

    def filter(self, fresh: list[tuple[Any, TrainingExample]]) -> list[TrainingExample]:
        """The examples to create: all of them, less near-duplicates when the import skips them."""
        keep = []
        for row, example in fresh:
            checked = self.enabled and not self.no_index
            if checked and self._is_near_duplicate(row, example) and self.skip:
                self.skipped += 1
                continue
            keep.append(example)
        return keep

    def _is_near_duplicate(self, row: Any, example: TrainingExample) -> bool:
        fp = fingerprint_or_none(example.svg_content)
        self._vectors[id(example)] = fp
        if fp is None:
            return False
        try:
            near = neighbours_of_vector(fp.vector, k=1)
        except similarity_index.IndexMissing:
            self.no_index = True  # nothing indexed yet: nothing to be a near-duplicate of
            return False
        if not near or not near[0].near_duplicate:
            return False
        self.count += 1
        if len(self.found) < REPORT_CAP:
            nearest = near[0].example
            self.found.append(
                {
                    "line": row.line,
                    "source": row.source,
                    "nearest": str(nearest.pk),
                    "nearest_name": nearest.external_id or nearest.prompt[:80],
                    "similarity": near[0].similarity,
                    "action": "skipped" if self.skip else "kept",
                }
            )
        return True

    def store(self, created: list[TrainingExample]) -> None:
        """Store the fingerprints computed for the rows just created (those checked)."""
        rows = []
        for example in created:
            if id(example) not in self._vectors:
                continue
            fp = self._vectors.pop(id(example))
            rows.append(
                ExampleFingerprint(
                    example=example,
                    content_hash=example.content_hash,
                    rendered=fp is not None,
                    phash=fp.phash if fp else "",
                    vector=fp.vector.tobytes() if fp else None,
                )
            )
        ExampleFingerprint.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        self._vectors.clear()

    def report(self) -> dict[str, Any]:
        return {
            "policy": self.batch.near_duplicates,
            "threshold": settings.NEAR_DUPLICATE_SIMILARITY,
            "checked": self.enabled and not self.no_index,
            "note": "No similarity index yet: rows were not checked (a build was queued)."
            if self.no_index
            else "",
            "count": self.count,
            "skipped": self.skipped,
            "rows": self.found,
        }
