"""`train_icon_model`'s whole path in this process, through the curators' and ML staff's own services:
import a folder (or any file the importer reads), freeze a seeded snapshot of it, train with the
snapshot's recipe within a budget, evaluate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from training.models import Dataset, ImportBatch, TrainingExample, TrainingRun
from training.readers import detect_format
from training.services.import_run import import_batch_run
from training.services.imports import import_batch_create
from training.services.profiles import dataset_budget_estimate
from training.services.runs import training_run_create, training_run_run
from training.services.snapshots import dataset_export, dataset_snapshot_create


@dataclass
class PipelineResult:
    batch: ImportBatch
    dataset: Dataset
    run: TrainingRun


def icon_model_pipeline_run(
    *,
    source: Path,
    budget_seconds: int,
    seed: int = 0,
    snapshot_name: str = "",
    promote_to: str = "",
    promote_override_reason: str = "",
    requested_by: Any = None,
    on_step: Callable[[str], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> PipelineResult:
    """Import `source` (invalid rows skipped and reported), snapshot everything imported from it, train
    and evaluate, then point `promote_to` at the version (production only if its verdict is not "not
    learned", or with `promote_override_reason`). Raises ValidationError when there is nothing to train
    on."""
    note = on_step or (lambda _msg: None)
    fmt = detect_format(source)
    note(f"Importing {source} ({fmt}).")
    batch = import_batch_create(
        source_name=source.name,
        source_path=str(source),
        format=fmt,
        mode=ImportBatch.Mode.SKIP_INVALID,
        default_status=TrainingExample.Status.APPROVED,
        created_by=requested_by,
        enqueue=False,
    )
    batch = import_batch_run(batch_id=batch.pk)
    if batch.status != "completed":
        raise ValidationError({"source": f"The import failed: {batch.error_message or batch.status}."})
    # A second import of the same folder adds nothing (dedup): take every example it ever brought.
    examples = TrainingExample.objects.filter(import_batch__source_path=str(source)).exclude(
        status=TrainingExample.Status.REJECTED
    )
    if not examples.exists():
        raise ValidationError({"source": f"Nothing was imported from {source}."})
    name = snapshot_name or _slug(source)
    note(f"Freezing snapshot {name} (seed {seed}) of {examples.count()} examples.")
    dataset = dataset_snapshot_create(
        name=name,
        examples=examples,
        seed=seed,
        created_by=requested_by,
        description=f"train_icon_model {source}",
        selection={"source_path": str(source)},
        enqueue=False,
    )
    dataset = dataset_export(dataset_id=dataset.pk)
    # Said before training: whether the budget can be enough, and what would be (slm.learnable).
    note(dataset_budget_estimate(dataset=dataset, budget_seconds=budget_seconds or None).message())
    note("Training with the snapshot's recipe.")
    run = training_run_create(
        dataset=dataset,
        params={"budget_seconds": budget_seconds, "seed": seed},
        model_name=name,
        promote_to=promote_to,
        promote_override_reason=promote_override_reason,
        requested_by=requested_by,
        enqueue=False,
        system=requested_by is None,  # the command line: whoever runs it has the shell
    )
    run = training_run_run(run_id=run.pk, on_progress=on_progress)
    return PipelineResult(batch=batch, dataset=dataset, run=run)


def _slug(source: Path) -> str:
    parts = [p for p in (source.parent.name, source.name) if p and p not in ("icons", ".")]
    text = "-".join(parts or ["icons"]).lower()
    return "".join(c if c.isalnum() or c == "-" else "-" for c in text)[:100].strip("-") or "icons"
