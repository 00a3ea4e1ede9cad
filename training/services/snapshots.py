"""Dataset snapshots: freeze a selection of examples, split it by seed, hash it, export it as sharded
Parquet (and JSONL): training.services.snapshot_export."""

from __future__ import annotations

import hashlib
import random
from array import array
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet

from catalog.style import conditioning_text
from core.jobs.actor import job_run
from core.jobs.kinds import job_enqueue
from training.errors import TrainingErrorCode
from training.models import Dataset, DatasetExport, DatasetItem, TrainingExample
from training.services.snapshot_export import dataset_export_execute, export_line

__all__ = ["dataset_export", "dataset_export_execute", "dataset_snapshot_create", "export_line"]

SPLITS = ("train", "validation", "test")
FREEZE_CHUNK = 2000  # rows a cursor page and a bulk insert hold
DEFAULT_SPLIT = {"train": 0.9, "validation": 0.05, "test": 0.05}


def _split_counts(n: int, ratios: dict[str, float]) -> dict[str, int]:
    val = int(round(n * ratios["validation"]))
    test = int(round(n * ratios["test"]))
    if n >= 3:  # every split gets at least one row when there are enough
        val, test = max(val, 1), max(test, 1)
    return {"train": max(n - val - test, 0), "validation": val, "test": test}


def _split_codes(n: int, counts: dict[str, int], seed: int) -> bytearray:
    """Each row's split (an index into SPLITS) by its position in content-hash order, one byte a row. The
    same shuffle as ever (random.shuffle of the positions, held in an int32 array), so a seed still makes
    the same split."""
    order = array("i", range(n))
    random.Random(seed).shuffle(order)
    codes = bytearray(n)
    train, val = counts["train"], counts["train"] + counts["validation"]
    for rank, idx in enumerate(order):
        codes[idx] = 0 if rank < train else 1 if rank < val else 2
    return codes


def _write_items(batch: list[DatasetItem]) -> int:
    DatasetItem.objects.bulk_create(batch, batch_size=1000)
    n = len(batch)
    batch.clear()
    return n


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
    export_jsonl: bool = True,
) -> Dataset:
    """Freeze a selection now (copies, so later edits change nothing), split it by seed; its export job
    writes the Parquet shards (and the JSONL) (after commit with enqueue, else `dataset_export` runs it in this process)."""
    ratios = {**DEFAULT_SPLIT, **(ratios or {})}
    if abs(sum(ratios.values()) - 1.0) > 1e-6 or any(v < 0 for v in ratios.values()):
        raise ValidationError({"ratios": "Split ratios must be non-negative and add up to 1."})
    selected = (
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
    total = selected.count()
    if not total:
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
        export_jsonl=export_jsonl,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    dataset.full_clean()
    dataset.save()
    counts = _split_counts(total, ratios)
    split_of = _split_codes(total, counts, seed)
    # A server-side cursor pages through the selection and items are written a chunk at a time: peak memory
    # follows FREEZE_CHUNK, not the row count (the split codes above are one byte a row).
    digest = hashlib.sha256()
    contexts: dict[Any, str] = {}
    batch: list[DatasetItem] = []
    written = 0
    for idx, ex in enumerate(selected.iterator(chunk_size=FREEZE_CHUNK)):
        if ex.style_guide_id and ex.style_guide_id not in contexts:
            contexts[ex.style_guide_id] = conditioning_text(ex.style_guide)
        context = contexts.get(ex.style_guide_id, "") if ex.style_guide_id else ""
        split = SPLITS[split_of[idx]] if idx < total else "train"  # rows added since the count: train
        digest.update(f"{ex.content_hash}\t{ex.prompt}\t{context}\t{split}\n".encode())
        batch.append(
            DatasetItem(
                dataset=dataset,
                example_id=ex.pk,
                split=split,
                prompt=ex.prompt,
                svg_content=ex.svg_content,
                context=context,
                content_hash=ex.content_hash,
            )
        )
        if len(batch) >= FREEZE_CHUNK:
            written += _write_items(batch)
    written += _write_items(batch)
    dataset.record_count = written
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
