"""What a training run reads: a snapshot's Parquet shards, streamed by slm.train.stream (the local media
folder in place, other storage downloaded once per worker machine); the checksums are checked by the run
itself, which fails naming a shard that does not match its manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import default_storage

from training.models import Dataset

if TYPE_CHECKING:
    from slm.train.stream import ShardSet


def dataset_shards(*, dataset: Dataset) -> ShardSet | None:
    """The snapshot's shards as a run reads them; None for a snapshot without a complete Parquet export
    (one exported before it, or with shards turned off): the run then reads its items from the database."""
    from slm.train.stream import ShardSet  # here: a broken install fails the run, not the import

    manifest = dataset.export_manifest or {}
    if not manifest.get("complete") or not getattr(settings, "TRAIN_FROM_SHARDS", True):
        return None
    prefix = manifest["prefix"]
    try:
        folder = Path(default_storage.path(prefix))  # local storage: read the stored files in place
    except NotImplementedError:
        folder = Path(settings.WORK_DIR) / "dataset-cache" / str(dataset.pk)
        _download(manifest, prefix, folder)
    return ShardSet.from_manifest(folder, manifest)


def _download(manifest: dict, prefix: str, folder: Path) -> None:
    """Each shard not yet here at its recorded size, a megabyte at a time, renamed when whole."""
    folder.mkdir(parents=True, exist_ok=True)
    for shard in manifest["shards"]:
        dest = folder / shard["path"]
        if dest.is_file() and dest.stat().st_size == shard["bytes"]:
            continue
        tmp = dest.with_suffix(".part")
        with default_storage.open(f"{prefix}/{shard['path']}", "rb") as src, tmp.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        tmp.replace(dest)


def streamed_form_failures(*, out_dir: Path) -> tuple[int, int, list[dict[str, str]]]:
    """What a streamed run's preparation counted (slm.train.stream): training rows kept, designs the
    model form cannot express, and the first of those with their reasons."""
    kept, failed, first = 0, 0, []
    for stats in sorted(out_dir.glob("stream/*/train-*.stats.json")):
        data = json.loads(stats.read_text())
        kept += data.get("designs", data["rows"])
        failed += data["unconvertible"]
        first += data["failures"][: 100 - len(first)]
    return kept, failed, first
