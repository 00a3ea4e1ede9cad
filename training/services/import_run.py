"""Running an import of training examples: read, check (training.services.import_checks), dedup, store,
and the batch's report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core import events
from core.jobs.actor import job_run
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from training import readers
from training.models import ImportBatch, TrainingExample
from training.services.given_reviews import import_given_status
from training.services.import_checks import CHUNK, checked_rows
from training.services.import_near_duplicates import NearDuplicateCheck
from training.services.import_rows import SOURCE_TYPE as _SOURCE_TYPE
from training.services.import_rows import example_from_row as _example
from training.services.similarity import similarity_index_build_request

log = logging.getLogger(__name__)

REPORT_ROW_CAP = 500  # per-row reasons kept in the report; the counts are always complete
PROGRESS_EVERY_S = 1.0
COUNTS = ("rows_read", "rows_valid", "rows_invalid", "rows_duplicate", "rows_created", "rows_updated")


class _Rollback(Exception):
    """Raised inside the import transaction to undo an all-or-nothing import."""


def import_batch_run(
    *, batch_id: Any, on_progress: Callable[[ImportBatch], None] | None = None, index: bool = True
) -> ImportBatch:
    """Claim an import and run it in this process (the command line, the demo); the row as it ended.
    `index=False`: the caller requests the similarity index build itself, later."""
    job_run(
        ImportBatch,
        batch_id,
        lambda batch: import_batch_execute(batch=batch, on_progress=on_progress, index=index),
    )
    return ImportBatch.objects.get(pk=batch_id)


def import_batch_execute(
    *, batch: ImportBatch, on_progress: Callable[[ImportBatch], None] | None = None, index: bool = True
) -> ImportBatch:
    """Run a claimed import: read, check, dedup and (unless a dry run) store. Always ends it completed or
    failed, with its report, and (unless `index` is False) queues the similarity index build."""
    state = _ImportState(batch, index=index)
    try:
        with _open_source(batch) as (rows, progress):
            if batch.dry_run:
                state.consume(rows, progress, store=False, on_progress=on_progress)
            elif batch.mode == ImportBatch.Mode.ALL_OR_NOTHING:
                state.publish_progress = False  # nobody could read it before the commit; no row lock
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


@contextmanager
def _open_source(batch: ImportBatch) -> Iterator[tuple[Iterator[readers.RawRow], Callable[[], float]]]:
    """Rows of the batch's source and a progress function (0..1), from storage or a local path."""
    path = Path(batch.source_path)
    if batch.format in (ImportBatch.Format.ICON_SET, ImportBatch.Format.SVG_FOLDER):
        files = sum(1 for _ in path.rglob("*.svg")) or 1
        counter = {"n": 0}

        def rows() -> Iterator[readers.RawRow]:
            for row in readers.read_svg_folder(path, sidecars=batch.format == ImportBatch.Format.ICON_SET):
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
            ImportBatch.Format.JSONL: readers.read_jsonl,
            ImportBatch.Format.CSV: readers.read_csv,
            ImportBatch.Format.ZIP: readers.read_zip,
        }[batch.format]
        yield reader(fh, batch.source_name), lambda: min(fh.tell() / size, 1.0) if not fh.closed else 1.0
    finally:
        fh.close()


class _ImportState:
    def __init__(self, batch: ImportBatch, *, index: bool = True) -> None:
        self.index = index
        self.batch = batch
        for name in COUNTS:
            setattr(batch, name, 0)
        self.invalid: list[dict[str, Any]] = []
        self.duplicates: list[dict[str, Any]] = []
        self.removals: dict[str, int] = {}
        self.seen_hashes: set[bytes] = set()  # 16-byte digests: ~50 bytes a row, bounded
        self.seen_ids: set[str] = set()
        self.rolled_back = False
        self.fatal = ""
        self.last_progress = 0.0
        self.publish_progress = True
        self.near = NearDuplicateCheck(batch)
        self.given = import_given_status(batch)  # approved/rejected: the importer's review of each row

    def consume(self, rows, progress, *, store: bool, on_progress) -> None:
        chunk: list[readers.CheckedRow] = []
        for checked in checked_rows(rows):
            self.batch.rows_read += 1
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

    def _flush(self, chunk: list[readers.CheckedRow], store: bool) -> None:
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
        fresh: list[tuple[readers.CheckedRow, TrainingExample]] = []
        now = timezone.now()
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
            fresh.append((c, _example(batch, c, source_type, now, given=self.given)))
        to_create = self.near.filter(fresh)
        if store and to_create:
            TrainingExample.objects.bulk_create(to_create, batch_size=500)
            self.given.reviews_create(to_create, audited=False)
            self.near.store(to_create)
        batch.rows_created += len(to_create)

    def _duplicate(self, c: readers.CheckedRow, reason: str) -> None:
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
        # Not inside an all-or-nothing import's transaction: nobody could read it before the commit, and
        # the row lock would hold up core.jobs' heartbeat of this very row.
        if self.publish_progress:
            ImportBatch.objects.filter(pk=batch.pk).update(rows_read=batch.rows_read, progress=batch.progress)
        if on_progress:
            on_progress(batch)

    def finish(self, status: str) -> None:
        batch = self.batch
        if self.rolled_back:
            batch.rows_created = batch.rows_updated = 0
        report = {
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
            "near_duplicates": self.near.report(),
            "sanitiser_removed": dict(sorted(self.removals.items(), key=lambda kv: -kv[1])[:50]),
            "truncated": batch.rows_invalid > len(self.invalid)
            or batch.rows_duplicate > len(self.duplicates),
        }
        lines = [f"line {r['line']} ({r['source']}): {r['reason']}" for r in self.invalid]
        if self.rolled_back:
            lines.insert(0, f"All or nothing: {batch.rows_invalid} invalid row(s), nothing was stored.")
        if self.fatal:
            lines.insert(0, f"Import stopped: {self.fatal}")
        with transaction.atomic():  # the event commits with the outcome it announces (core.events)
            finished = job_finish(
                batch,
                status,
                error=lines[0] if status == JobStatus.FAILED and lines else "",
                progress=1.0,
                report=report,
                error_log="\n".join(lines)[:100_000],
                **{name: getattr(batch, name) for name in COUNTS},
            )
            if finished:
                summary = {"status": status, "dry_run": batch.dry_run, **report["counts"]}
                url = events.api_url("import-detail", pk=batch.pk)
                events.event_emit(type=events.IMPORT_FINISHED, obj_id=batch.pk, url=url, summary=summary)
        if self.index and batch.rows_created and (status == JobStatus.COMPLETED or self.near.no_index):
            similarity_index_build_request(reason=f"import {batch.pk}")  # the new rows into the index
