"""Writes of training data: imports, curation, snapshots, pattern expansion."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from training import imports
from training.models import Dataset, DatasetItem, ImportBatch, JobStatus, TrainingExample

log = logging.getLogger(__name__)

CHUNK = 1000
REPORT_ROW_CAP = 500  # per-row reasons kept in the report; the counts are always complete
PROGRESS_EVERY_S = 1.0


class _Rollback(Exception):
    """Raised inside the import transaction to undo an all-or-nothing import."""


# ---------------------------------------------------------------- imports


@transaction.atomic
def import_batch_create(
    *,
    source_name: str,
    source_path: str,
    format: str,
    mode: str = ImportBatch.Mode.ALL_OR_NOTHING,
    dry_run: bool = False,
    default_status: str = TrainingExample.Status.DRAFT,
    style_guide: Any = None,
    created_by: Any = None,
    enqueue: bool = True,
) -> ImportBatch:
    """Record an import; with enqueue, a worker runs it after commit (see training.tasks)."""
    if default_status not in TrainingExample.Status.values:
        raise ValidationError(
            {"default_status": f"Must be one of {', '.join(TrainingExample.Status.values)}."}
        )
    batch = ImportBatch(
        source_name=source_name[:500],
        source_path=source_path,
        format=format,
        mode=mode,
        dry_run=dry_run,
        default_status=default_status,
        style_guide=style_guide,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    batch.full_clean()
    batch.save()
    if enqueue:
        from core.jobs import enqueue_on_commit
        from training.tasks import run_import

        enqueue_on_commit(run_import, str(batch.pk))
    return batch


def import_upload_store(*, uploaded: IO[bytes], name: str) -> str:
    """Keep an uploaded file in the configured storage so any worker machine can read it."""
    safe = Path(name).name[:200] or "upload"
    return default_storage.save(f"imports/{timezone.now():%Y/%m/%d}/{safe}", uploaded)


@contextmanager
def _open_source(batch: ImportBatch) -> Iterator[tuple[Iterator[imports.RawRow], Callable[[], float]]]:
    """Rows of the batch's source and a progress function (0..1), from storage or a local path."""
    path = Path(batch.source_path)
    if batch.format in (ImportBatch.Format.ICON_SET, ImportBatch.Format.SVG_FOLDER):
        files = sum(1 for _ in path.rglob("*.svg")) or 1
        counter = {"n": 0}

        def rows() -> Iterator[imports.RawRow]:
            for row in imports.read_svg_folder(path, sidecars=batch.format == ImportBatch.Format.ICON_SET):
                counter["n"] += 1
                yield row

        yield rows(), lambda: min(counter["n"] / files, 1.0)
        return
    if path.is_absolute() and path.exists():
        fh = path.open("rb")
        size = path.stat().st_size or 1
    else:
        fh = default_storage.open(batch.source_path, "rb")
        size = default_storage.size(batch.source_path) or 1
    try:
        reader = {
            ImportBatch.Format.JSONL: imports.read_jsonl,
            ImportBatch.Format.CSV: imports.read_csv,
            ImportBatch.Format.ZIP: imports.read_zip,
        }[batch.format]
        yield reader(fh, batch.source_name), lambda: min(fh.tell() / size, 1.0) if not fh.closed else 1.0
    finally:
        fh.close()


def import_batch_run(
    *, batch_id: Any, on_progress: Callable[[ImportBatch], None] | None = None
) -> ImportBatch:
    """Run an import: read, check, dedup and (unless a dry run) store. Always ends in a terminal state."""
    batch = ImportBatch.objects.get(pk=batch_id)
    batch.status = JobStatus.RUNNING
    batch.started_at = batch.heartbeat_at = timezone.now()
    batch.save(update_fields=["status", "started_at", "heartbeat_at", "updated_at"])
    state = _ImportState(batch)
    try:
        with _open_source(batch) as (rows, progress):
            if batch.dry_run:
                state.consume(rows, progress, store=False, on_progress=on_progress)
            elif batch.mode == ImportBatch.Mode.ALL_OR_NOTHING:
                try:
                    with transaction.atomic():
                        state.consume(rows, progress, store=True, on_progress=on_progress)
                        if batch.rows_invalid:
                            raise _Rollback
                except _Rollback:
                    state.rolled_back = True
            else:
                state.consume(rows, progress, store=True, on_progress=on_progress)
        state.finish(JobStatus.FAILED if state.rolled_back else JobStatus.COMPLETED)
    except Exception as exc:  # the row must never stay `running`
        log.exception("import %s failed", batch.pk)
        state.fatal = f"{type(exc).__name__}: {exc}"
        state.finish(JobStatus.FAILED)
    return batch


class _ImportState:
    def __init__(self, batch: ImportBatch) -> None:
        self.batch = batch
        for name in (
            "rows_read",
            "rows_valid",
            "rows_invalid",
            "rows_duplicate",
            "rows_created",
            "rows_updated",
        ):
            setattr(batch, name, 0)
        self.invalid: list[dict[str, Any]] = []
        self.duplicates: list[dict[str, Any]] = []
        self.removals: dict[str, int] = {}
        self.seen_hashes: set[bytes] = set()  # 16-byte digests: ~50 bytes a row, bounded
        self.seen_ids: set[str] = set()
        self.rolled_back = False
        self.fatal = ""
        self.last_progress = 0.0

    def consume(self, rows, progress, *, store: bool, on_progress) -> None:
        chunk: list[imports.CheckedRow] = []
        for raw in rows:
            self.batch.rows_read += 1
            checked = imports.check_row(raw)
            if checked.error:
                self.batch.rows_invalid += 1
                if len(self.invalid) < REPORT_ROW_CAP:
                    self.invalid.append(
                        {"line": checked.line, "source": checked.source, "reason": checked.error}
                    )
                continue
            self.batch.rows_valid += 1
            for removal in checked.clean.removals:
                key = removal.split(" on ")[0][:120]
                self.removals[key] = self.removals.get(key, 0) + 1
            chunk.append(checked)
            if len(chunk) >= CHUNK:
                self._flush(chunk, store)
                chunk = []
                self._progress(progress(), on_progress)
        if chunk:
            self._flush(chunk, store)
        self._progress(1.0, on_progress, force=True)

    def _flush(self, chunk: list[imports.CheckedRow], store: bool) -> None:
        batch = self.batch
        source_type = _SOURCE_TYPE[batch.format]
        if batch.format == ImportBatch.Format.ZIP and any(c.sidecar for c in chunk):
            source_type = TrainingExample.SourceType.ICON_SET  # a zipped icon set (SVG + JSON sidecars)
        hashes = [c.clean.content_hash for c in chunk]
        ext_ids = [c.external_id for c in chunk if c.external_id]
        existing_by_hash = dict(
            TrainingExample.objects.filter(content_hash__in=hashes).values_list("content_hash", "external_id")
        )
        existing_by_id = {
            e.external_id: e
            for e in TrainingExample.objects.filter(source_type=source_type, external_id__in=ext_ids)
        }
        to_create: list[TrainingExample] = []
        for c in chunk:
            digest = bytes.fromhex(c.clean.content_hash)[:16]
            if c.external_id and c.external_id in existing_by_id:
                # Upsert by external_id: update if the design or prompt changed, else it's a duplicate.
                current = existing_by_id[c.external_id]
                if current.content_hash == c.clean.content_hash and current.prompt == c.prompt:
                    self._duplicate(c, "same external_id, unchanged")
                    continue
                if (
                    c.clean.content_hash in existing_by_hash
                    and existing_by_hash[c.clean.content_hash] != c.external_id
                ):
                    self._duplicate(c, "design already present under another example")
                    continue
                if store:
                    current.prompt, current.svg_content = c.prompt, c.clean.svg
                    current.content_hash, current.tags = c.clean.content_hash, c.tags
                    current.data_category, current.metadata = c.category, c.metadata
                    current.import_batch, current.source_line = batch, c.line
                    current.save()
                batch.rows_updated += 1
                self.seen_hashes.add(digest)
                continue
            if c.clean.content_hash in existing_by_hash or digest in self.seen_hashes:
                self._duplicate(c, "same normalised design already imported")
                continue
            if c.external_id and c.external_id in self.seen_ids:
                self._duplicate(c, "external_id repeated in this file")
                continue
            self.seen_hashes.add(digest)
            if c.external_id:
                self.seen_ids.add(c.external_id)
            to_create.append(
                TrainingExample(
                    prompt=c.prompt,
                    svg_content=c.clean.svg,
                    content_hash=c.clean.content_hash,
                    svg_file=c.source if batch.format not in ("jsonl", "csv") else "",
                    source_type=source_type,
                    source_url=c.source_url,
                    source_line=c.line,
                    import_batch=batch,
                    external_id=c.external_id,
                    data_category=c.category,
                    tags=c.tags,
                    metadata={**c.metadata, "source_file": batch.source_name},
                    style_guide=batch.style_guide,
                    status=batch.default_status,
                    collected_at=timezone.now(),
                )
            )
        if store and to_create:
            TrainingExample.objects.bulk_create(to_create, batch_size=500)
        batch.rows_created += len(to_create)

    def _duplicate(self, c: imports.CheckedRow, reason: str) -> None:
        self.batch.rows_duplicate += 1
        if len(self.duplicates) < REPORT_ROW_CAP:
            self.duplicates.append({"line": c.line, "source": c.source, "reason": reason})

    def _progress(self, value: float, on_progress, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_EVERY_S:
            return
        self.last_progress = now
        batch = self.batch
        batch.progress = round(value, 4)
        batch.heartbeat_at = timezone.now()
        # Written outside the import's own transaction would need a second connection; the row is
        # updated in place, which readers see once committed (skip-invalid commits per chunk).
        ImportBatch.objects.filter(pk=batch.pk).update(
            rows_read=batch.rows_read, progress=batch.progress, heartbeat_at=batch.heartbeat_at
        )
        if on_progress:
            on_progress(batch)

    def finish(self, status: str) -> None:
        batch = self.batch
        batch.status = status
        batch.finished_at = timezone.now()
        batch.progress = 1.0
        if self.rolled_back:
            batch.rows_created = batch.rows_updated = 0
        batch.report = {
            "dry_run": batch.dry_run,
            "mode": batch.mode,
            "rolled_back": self.rolled_back,
            "counts": {
                "read": batch.rows_read,
                "valid": batch.rows_valid,
                "invalid": batch.rows_invalid,
                "duplicates": batch.rows_duplicate,
                "created": batch.rows_created,
                "updated": batch.rows_updated,
            },
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "sanitiser_removed": dict(sorted(self.removals.items(), key=lambda kv: -kv[1])[:50]),
            "truncated": batch.rows_invalid > len(self.invalid)
            or batch.rows_duplicate > len(self.duplicates),
        }
        lines = [f"line {r['line']} ({r['source']}): {r['reason']}" for r in self.invalid]
        if self.rolled_back:
            lines.insert(0, f"All or nothing: {batch.rows_invalid} invalid row(s), nothing was stored.")
        if self.fatal:
            lines.insert(0, f"Import stopped: {self.fatal}")
        batch.error_log = "\n".join(lines)[:100_000]
        batch.save()


_SOURCE_TYPE = {
    ImportBatch.Format.JSONL: TrainingExample.SourceType.JSONL,
    ImportBatch.Format.CSV: TrainingExample.SourceType.CSV,
    ImportBatch.Format.ZIP: TrainingExample.SourceType.SVG_FILES,
    ImportBatch.Format.SVG_FOLDER: TrainingExample.SourceType.SVG_FILES,
    ImportBatch.Format.ICON_SET: TrainingExample.SourceType.ICON_SET,
}


# ---------------------------------------------------------------- curation


@transaction.atomic
def training_example_set_status(*, examples: QuerySet[TrainingExample], status: str, reviewed_by: Any) -> int:
    if status not in TrainingExample.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    now = timezone.now()
    changed = 0
    # Row by row (not .update()) so each change lands in the audit trail with its old value.
    # Lock our own rows only: the caller's queryset may carry outer joins PostgreSQL cannot lock.
    for example in TrainingExample.objects.filter(pk__in=examples.values("pk")).select_for_update():
        if example.status == status:
            continue
        example.status = status
        example.reviewed_by = reviewed_by if getattr(reviewed_by, "pk", None) else None
        example.reviewed_at = now
        example.save(update_fields=["status", "reviewed_by", "reviewed_at", "updated_at"])
        changed += 1
    return changed


# ---------------------------------------------------------------- snapshots

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
    """Freeze a selection now (copies, so later edits change nothing), split it by seed, export later."""
    import hashlib
    import random

    from django.db.models import Max

    from catalog.style import conditioning_text

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
        raise ValidationError({"examples": "A snapshot needs at least one example."})
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
    if enqueue:
        from core.jobs import enqueue_on_commit
        from training.tasks import export_dataset

        enqueue_on_commit(export_dataset, str(dataset.pk))
    return dataset


def dataset_export(*, dataset_id: Any) -> Dataset:
    """Write the snapshot as JSONL to storage with its md5; mark it ready (or error, with the reason)."""
    import hashlib
    import json
    import tempfile

    from django.core.files import File

    dataset = Dataset.objects.get(pk=dataset_id)
    try:
        md5 = hashlib.md5(usedforsecurity=False)
        with tempfile.NamedTemporaryFile("w+b", suffix=".jsonl") as tmp:
            for item in dataset.items.order_by("split", "content_hash").iterator(chunk_size=2000):
                line = (
                    json.dumps(
                        {
                            "prompt": item.prompt,
                            "svg": item.svg_content,
                            "split": item.split,
                            "context": item.context,
                            "content_hash": item.content_hash,
                            "example_id": str(item.example_id) if item.example_id else None,
                        },
                        ensure_ascii=False,
                    ).encode()
                    + b"\n"
                )
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
    dataset.save()
    return dataset


# ---------------------------------------------------------------- runs, registry, aliases (training/runs.py)

from training.runs import (  # noqa: E402
    model_alias_move,
    model_alias_rollback,
    model_evaluation_create,
    model_evaluation_execute,
    model_version_register,
    training_run_cancel,
    training_run_claim,
    training_run_create,
    training_run_execute,
)

__all__ = [
    "dataset_export",
    "dataset_snapshot_create",
    "import_batch_create",
    "import_batch_run",
    "import_upload_store",
    "model_alias_move",
    "model_alias_rollback",
    "model_evaluation_create",
    "model_evaluation_execute",
    "model_version_register",
    "training_example_set_status",
    "training_run_cancel",
    "training_run_claim",
    "training_run_create",
    "training_run_execute",
]
