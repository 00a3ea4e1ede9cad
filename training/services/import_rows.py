"""An import's row as a new TrainingExample (training.services.import_run writes them in chunks)."""

from __future__ import annotations

from typing import Any

from training import readers
from training.models import ImportBatch, TrainingExample
from training.services.given_reviews import GivenStatus, import_given_status


def example_from_row(
    batch: ImportBatch, c: readers.CheckedRow, source_type: str, now: Any, *, given: GivenStatus | None = None
) -> TrainingExample:
    # Foreign keys by id and one timestamp per chunk: building thousands of rows is this process's
    # main cost while the workers check the next ones. `given`: the status (and review) the rows get.
    given = given or import_given_status(batch)
    return TrainingExample(
        prompt=c.prompt,
        svg_content=c.clean.svg,
        content_hash=c.clean.content_hash,
        svg_file=c.source if batch.format not in ("jsonl", "csv") else "",
        source_type=source_type,
        source_url=c.source_url,
        source_line=c.line,
        import_batch_id=batch.pk,
        external_id=c.external_id,
        data_category=c.category,
        tags=c.tags,
        metadata={**c.metadata, "source_file": batch.source_name},
        style_guide_id=batch.style_guide_id,
        review_policy_id=batch.review_policy_id,
        collected_at=now,
        created_at=now,
        updated_at=now,
        **given.example_fields(now),
    )


SOURCE_TYPE = {
    ImportBatch.Format.JSONL: TrainingExample.SourceType.JSONL,
    ImportBatch.Format.CSV: TrainingExample.SourceType.CSV,
    ImportBatch.Format.ZIP: TrainingExample.SourceType.SVG_FILES,
    ImportBatch.Format.SVG_FOLDER: TrainingExample.SourceType.SVG_FILES,
    ImportBatch.Format.ICON_SET: TrainingExample.SourceType.ICON_SET,
}
