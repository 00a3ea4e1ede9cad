"""A data set as sharded Parquet files with a manifest (each shard's split, row count, size and sha256):
written a row group at a time, read back a record batch at a time. No Django here: paths and dicts.

Shards hold one split each, in the order given (a snapshot's content-hash order), so shard k of a split
holds rows [k*rows_per_shard, (k+1)*rows_per_shard) of it: an interrupted export resumes at a shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLUMNS = ("prompt", "svg", "context", "content_hash", "example_id")
ROW_GROUP = 2000  # rows a writer holds before it flushes; a reader's batch
MANIFEST_VERSION = 1


class ShardChecksumError(ValueError):
    """A shard's bytes do not match its manifest: the message names the shard."""


@dataclass(frozen=True)
class Shard:
    path: str  # relative to the data set's folder
    split: str
    rows: int
    sha256: str
    bytes: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Shard:
        return cls(str(d["path"]), str(d["split"]), int(d["rows"]), str(d["sha256"]), int(d["bytes"]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "split": self.split,
            "rows": self.rows,
            "sha256": self.sha256,
            "bytes": self.bytes,
        }


def schema() -> Any:
    import pyarrow as pa

    return pa.schema([(c, pa.string()) for c in COLUMNS])


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.parquet"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_shard(path: Path, split: str, rows: Iterable[dict[str, Any]]) -> Shard:
    """Rows (dicts with COLUMNS) into one Parquet file, a row group at a time; its manifest entry."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = 0
    with pq.ParquetWriter(path, schema(), compression="zstd") as writer:
        group: list[dict[str, Any]] = []
        for row in rows:
            group.append(row)
            if len(group) >= ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(group, schema=schema()))
                count += len(group)
                group.clear()
        if group:
            writer.write_table(pa.Table.from_pylist(group, schema=schema()))
            count += len(group)
    return Shard(path.name, split, count, file_sha256(path), path.stat().st_size)


def verify_shards(folder: Path, shards: Iterable[Shard]) -> None:
    """Every shard present, with the bytes its manifest recorded; else ShardChecksumError naming it."""
    for shard in shards:
        path = folder / shard.path
        if not path.is_file():
            raise ShardChecksumError(f"Shard {shard.path} is missing from {folder}.")
        got = file_sha256(path)
        if got != shard.sha256:
            raise ShardChecksumError(
                f"Shard {shard.path} does not match its manifest: sha256 {got[:16]}…, "
                f"the manifest recorded {shard.sha256[:16]}…. The export is damaged: export the snapshot again."
            )


def iter_rows(folder: Path, shards: Iterable[Shard], skip: int = 0) -> Iterator[dict[str, str | None]]:
    """The shards' rows in order, a record batch at a time (never a whole shard in memory), after `skip`."""
    for shard in shards:
        if skip >= shard.rows:
            skip -= shard.rows
            continue
        rows = read_rows(folder / shard.path)
        for _ in range(skip):
            next(rows, None)
        skip = 0
        yield from rows


def read_rows(path: Path) -> Iterator[dict[str, str | None]]:
    """One Parquet file's prompt, svg and context, a record batch at a time."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=ROW_GROUP, columns=["prompt", "svg", "context"]):
            cols = batch.to_pydict()
            for i in range(batch.num_rows):
                yield {"prompt": cols["prompt"][i], "svg": cols["svg"][i], "context": cols["context"][i]}


def split_shards(manifest: dict[str, Any], split: str) -> list[Shard]:
    return [Shard.from_dict(s) for s in manifest.get("shards", []) if s["split"] == split]
