"""Imports of training examples: record one (and keep its upload); training.services.import_run runs it."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.jobs.kinds import job_enqueue
from training import readers
from training.models import ImportBatch, TrainingExample


@transaction.atomic
def import_batch_create(
    *,
    source_name: str,
    source_path: str,
    format: str,
    mode: str = ImportBatch.Mode.ALL_OR_NOTHING,
    near_duplicates: str = ImportBatch.NearDuplicates.KEEP,
    dry_run: bool = False,
    default_status: str = TrainingExample.Status.DRAFT,
    style_guide: Any = None,
    review_policy: Any = None,
    created_by: Any = None,
    enqueue: bool = True,
) -> ImportBatch:
    """Record an import; with enqueue, a worker runs it after commit (training.tasks.run_import)."""
    if default_status not in TrainingExample.Status.values:
        raise ValidationError(
            {"default_status": f"Must be one of {', '.join(TrainingExample.Status.values)}."}
        )
    batch = ImportBatch(
        source_name=source_name[:500],
        source_path=source_path,
        format=format,
        mode=mode,
        near_duplicates=near_duplicates,
        dry_run=dry_run,
        default_status=default_status,
        style_guide=style_guide,
        review_policy=review_policy,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    batch.full_clean()
    batch.save()
    if enqueue:
        job_enqueue(batch)
    return batch


def import_upload_store(*, uploaded: IO[bytes], name: str) -> str:
    """Keep an uploaded file in the configured storage so any worker machine can read it."""
    safe = Path(name).name[:200] or "upload"
    return default_storage.save(f"imports/{timezone.now():%Y/%m/%d}/{safe}", uploaded)


def import_upload_create(
    *,
    uploaded: Any,
    mode: str,
    dry_run: bool,
    default_status: str,
    near_duplicates: str = ImportBatch.NearDuplicates.KEEP,
    style_guide: Any = None,
    review_policy: Any = None,
    created_by: Any = None,
) -> ImportBatch:
    """An uploaded file (JSONL, CSV or ZIP, already checked by its suffix), stored and queued for import:
    what the admin's upload page and the API both do."""
    stored = import_upload_store(uploaded=uploaded, name=uploaded.name)
    return import_batch_create(
        source_name=uploaded.name,
        source_path=stored,
        format=readers.file_format(uploaded.name) or "",
        mode=mode,
        near_duplicates=near_duplicates,
        dry_run=dry_run,
        default_status=default_status,
        style_guide=style_guide,
        review_policy=review_policy,
        created_by=created_by,
    )
