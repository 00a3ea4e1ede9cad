"""Dataset snapshots: freeze a selection of examples, split it by seed, hash it, export it as JSONL."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, QuerySet

from catalog.style import conditioning_text
from core import events
from core.jobs.actor import job_run
from core.jobs.kinds import job_enqueue
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from training.errors import TrainingErrorCode
from training.models import Dataset, DatasetExport, DatasetItem, TrainingExample
from training.selectors import dataset_export_items
from training.services.profiles import dataset_profile

log = logging.getLogger(__name__)

DEFAULT_SPLIT = {"train": 0.9, "validation": 0.05, "test": 0.05}


def _split_counts(n: int, ratios: dict[str, float]) -> dict[str, int]:
    val = int(round(n * ratios["validation"]))
    test = int(round(n * ratios["test"]))
    if n >= 3:  # every split gets at least one row when there are enough
        val, test = max(val, 1), max(test, 1)
    return {"train": max(n - val - test, 0), "validation": val, "test": test}


@transaction.atomic
def dataset_snapshot_create(
    *,
    name: str,
    examples: QuerySet[TrainingExample],
    seed: int = 0,
    ratios: dict[str, float] | None = None,
    description: str = "",
    selection: dict[str, Any] | None = None,
    created_by: Any = None,
    enqueue: bool = True,
) -> Dataset:
    """Freeze a selection now (copies, so later edits change nothing), split it by seed; its export job
    writes the JSONL (after commit with enqueue, else `dataset_export` runs it in this process)."""
    ratios = {**DEFAULT_SPLIT, **(ratios or {})}
    if abs(sum(ratios.values()) - 1.0) > 1e-6 or any(v < 0 for v in ratios.values()):
        raise ValidationError({"ratios": "Split ratios must be non-negative and add up to 1."})
    rows = list(
        TrainingExample.objects.filter(pk__in=examples.values("pk"))
        .select_related("style_guide")
        .order_by("content_hash")
        .only(
            "id",
            "prompt",
            "svg_content",
            "content_hash",
            "style_guide__style_rules",
            "style_guide__guide_name",
        )
    )
    if not rows:
        message = "A snapshot needs at least one example."
        raise ValidationError({"examples": ValidationError(message, code=TrainingErrorCode.EMPTY_SNAPSHOT)})
    Dataset.objects.select_for_update().filter(name=name).exists()  # serialise version numbers per name
    version = (Dataset.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1
    dataset = Dataset(
        name=name,
        version=version,
        description=description,
        status=Dataset.Status.PROCESSING,
        selection=selection or {},
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    dataset.full_clean()
    dataset.save()

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    counts = _split_counts(len(rows), ratios)
    split_of = {}
    for rank, idx in enumerate(order):
        split_of[idx] = (
            "train"
            if rank < counts["train"]
            else "validation"
            if rank < counts["train"] + counts["validation"]
            else "test"
        )
    digest = hashlib.sha256()
    items = []
    for idx, ex in enumerate(rows):
        context = conditioning_text(ex.style_guide) if ex.style_guide_id else ""
        digest.update(f"{ex.content_hash}\t{ex.prompt}\t{context}\t{split_of[idx]}\n".encode())
        items.append(
            DatasetItem(
                dataset=dataset,
                example=ex,
                split=split_of[idx],
                prompt=ex.prompt,
                svg_content=ex.svg_content,
                context=context,
                content_hash=ex.content_hash,
            )
        )
    DatasetItem.objects.bulk_create(items, batch_size=1000)
    dataset.record_count = len(items)
    dataset.content_hash = digest.hexdigest()
    dataset.split = {"seed": seed, "ratios": ratios, "counts": counts}
    dataset.save(update_fields=["record_count", "content_hash", "split", "updated_at"])
    export = DatasetExport(dataset=dataset)
    export.full_clean(exclude=["dataset"])
    export.save()
    if enqueue:
        job_enqueue(export)
    return dataset


def dataset_export(*, dataset_id: Any) -> Dataset:
    """Run the snapshot's export job in this process (the demo, tests); the snapshot as it ended."""
    export = DatasetExport.objects.get(dataset_id=dataset_id)
    job_run(DatasetExport, export.pk, lambda job: dataset_export_execute(export=job))
    return Dataset.objects.get(pk=dataset_id)


def dataset_export_execute(*, export: DatasetExport) -> Dataset:
    """Write the snapshot as JSONL to storage with its md5; mark it ready (or error, with the reason)."""
    dataset = export.dataset
    try:
        md5 = hashlib.md5(usedforsecurity=False)
        with tempfile.NamedTemporaryFile("w+b", suffix=".jsonl") as tmp:
            for item in dataset_export_items(dataset=dataset):
                line = export_line(item)
                md5.update(line)
                tmp.write(line)
            tmp.flush()
            size = tmp.tell()
            tmp.seek(0)
            name = f"datasets/{dataset.name}/v{dataset.version}-{str(dataset.pk)[:8]}.jsonl"
            stored = default_storage.save(name, File(tmp, name=Path(name).name))
        dataset.storage_path = stored
        dataset.export_md5 = md5.hexdigest()
        dataset.size_bytes = size
        dataset.status = Dataset.Status.READY
        dataset.error_message = ""
    except Exception as exc:
        log.exception("export of dataset %s failed", dataset.pk)
        dataset.status = Dataset.Status.ERROR
        dataset.error_message = f"Export failed: {type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        dataset.save()
        failed = dataset.status == Dataset.Status.ERROR
        finished = job_finish(
            export,
            JobStatus.FAILED if failed else JobStatus.COMPLETED,
            error=dataset.error_message if failed else "",
        )
        if finished and not failed:
            summary = {"name": dataset.name, "version": dataset.version, "records": dataset.record_count}
            events.event_emit(type=events.SNAPSHOT_READY, obj_id=dataset.pk, summary=summary)
    if not failed:
        try:  # what training reads off it, once; a failure here only delays it to the first train form
            dataset_profile(dataset=dataset)
        except Exception:
            log.exception("profiling dataset %s failed", dataset.pk)
    return dataset


def export_line(item: DatasetItem) -> bytes:
    """One JSONL line of a snapshot's export (the stored export and `manage.py export_snapshot`)."""
    return json.dumps(_export_row(item), ensure_ascii=False).encode() + b"\n"


def _export_row(item: DatasetItem) -> dict[str, Any]:
    return {
        "prompt": item.prompt,
        "svg": item.svg_content,
        "split": item.split,
        "context": item.context,
        "content_hash": item.content_hash,
        "example_id": str(item.example_id) if item.example_id else None,
    }
