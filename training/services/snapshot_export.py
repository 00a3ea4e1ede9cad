"""A snapshot's export: sharded Parquet with a manifest (always), and the JSONL file (an option).

Each shard is written locally, checksummed, stored, and recorded in the snapshot's manifest before the
next one starts, so a worker killed mid-export leaves a manifest marked incomplete: the job's next
attempt keeps the shards already stored (same name, same size) and goes on from there. The snapshot is
ready only once every shard and the manifest are stored; an error, or the attempts running out, marks it
failed with the reason. Never half-ready.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from core import events
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from slm.shards import MANIFEST_VERSION, Shard, shard_name, write_shard
from training.models import Dataset, DatasetExport, DatasetItem
from training.selectors import dataset_export_items, dataset_split_counts
from training.services.profiles import dataset_profile

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"


def rows_per_shard() -> int:
    return int(getattr(settings, "DATASET_ROWS_PER_SHARD", 50_000))


def export_prefix(dataset: Dataset) -> str:
    return f"datasets/{dataset.name}/v{dataset.version}-{str(dataset.pk)[:8]}"


def dataset_export_execute(*, export: DatasetExport) -> Dataset:
    """Write the snapshot's Parquet shards and manifest (and its JSONL with its md5, when asked); mark it
    ready, or failed with the reason."""
    dataset = export.dataset
    try:
        dataset.export_manifest = parquet_export(dataset=dataset)
        if dataset.export_jsonl:
            _jsonl_export(dataset)
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
        if finished and not failed:  # the event commits with the outcome it announces (core.events)
            summary = {"name": dataset.name, "version": dataset.version, "records": dataset.record_count}
            events.event_emit(type=events.SNAPSHOT_READY, obj_id=dataset.pk, summary=summary)
    if not failed:
        try:  # what training reads off it, once; a failure here only delays it to the first train form
            dataset_profile(dataset=dataset)
        except Exception:
            log.exception("profiling dataset %s failed", dataset.pk)
    return dataset


def dataset_export_state(export: DatasetExport) -> None:
    """The export job's on_state hook: a job that failed outside the export (its attempts used up by
    killed workers) marks its snapshot failed, not processing for ever."""
    if export.status == JobStatus.FAILED:
        Dataset.objects.filter(pk=export.dataset_id, status=Dataset.Status.PROCESSING).update(
            status=Dataset.Status.ERROR,
            error_message=f"Export failed: {export.error_message or export.exhausted_message}"[:2000],
        )


def parquet_export(*, dataset: Dataset) -> dict[str, Any]:
    """The Parquet shards of every split, resumed after the shards an earlier attempt stored; the
    complete manifest, also stored as manifest.json next to them."""
    prefix, per_shard = export_prefix(dataset), rows_per_shard()
    manifest = _resumable(dataset, prefix, per_shard)
    counts = dataset_split_counts(dataset=dataset)
    with tempfile.TemporaryDirectory(prefix="atelier-export-") as tmp:
        for split in SPLITS:
            have = [s for s in manifest["shards"] if s["split"] == split]
            start, index = sum(s["rows"] for s in have), len(have)
            items = dataset.items.filter(split=split).order_by("content_hash")
            while start < counts.get(split, 0):
                rows = (_parquet_row(i) for i in items[start : start + per_shard].iterator(chunk_size=2000))
                shard = write_shard(Path(tmp) / shard_name(split, index), split, rows)
                _store(f"{prefix}/{shard.path}", Path(tmp) / shard.path)
                (Path(tmp) / shard.path).unlink()
                manifest["shards"].append(shard.as_dict())
                # Recorded before the next shard starts: a killed worker's next attempt resumes here.
                Dataset.objects.filter(pk=dataset.pk).update(export_manifest=manifest)
                start, index = start + shard.rows, index + 1
    manifest["complete"] = True
    manifest["rows"] = sum(s["rows"] for s in manifest["shards"])
    body = json.dumps(manifest, indent=1).encode()
    _store(f"{prefix}/{MANIFEST}", ContentFile(body))
    return manifest


def _resumable(dataset: Dataset, prefix: str, per_shard: int) -> dict[str, Any]:
    """The manifest an interrupted attempt left, cut at its first shard no longer stored as recorded;
    a fresh one when there is none (or it was written with another shard size)."""
    old = dataset.export_manifest or {}
    fresh = {"version": MANIFEST_VERSION, "prefix": prefix, "rows_per_shard": per_shard, "shards": []}
    if old.get("prefix") != prefix or old.get("rows_per_shard") != per_shard:
        return fresh
    for entry in old.get("shards", []):
        shard = Shard.from_dict(entry)
        name = f"{prefix}/{shard.path}"
        if not default_storage.exists(name) or default_storage.size(name) != shard.bytes:
            break
        fresh["shards"].append(shard.as_dict())
    if fresh["shards"]:
        log.info("export of dataset %s resumes after %d stored shard(s)", dataset.pk, len(fresh["shards"]))
    return fresh


def _store(name: str, content: Path | ContentFile) -> None:
    """Store under exactly this name (a shard a failed attempt left is replaced, not renamed)."""
    if default_storage.exists(name):
        default_storage.delete(name)
    if isinstance(content, Path):
        with content.open("rb") as fh:
            stored = default_storage.save(name, File(fh, name=content.name))
    else:
        stored = default_storage.save(name, content)
    if stored != name:
        raise RuntimeError(f"storage stored {name} as {stored}")


def _parquet_row(item: DatasetItem) -> dict[str, Any]:
    return {
        "prompt": item.prompt,
        "svg": item.svg_content,
        "context": item.context,
        "content_hash": item.content_hash,
        "example_id": str(item.example_id) if item.example_id else None,
    }


def _jsonl_export(dataset: Dataset) -> None:
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
        dataset.storage_path = default_storage.save(name, File(tmp, name=Path(name).name))
    dataset.export_md5 = md5.hexdigest()
    dataset.size_bytes = size


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
