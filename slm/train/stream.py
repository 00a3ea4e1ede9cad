"""Training data streamed from a snapshot's Parquet shards (slm.shards), never all in memory.

Three passes, each rank on its own shards (shard k belongs to rank k mod world):
1. prepare: check each shard's sha256 against the manifest (a mismatch fails the run, naming the shard),
   read it a record batch at a time, write each design in the model form (the ones the form cannot
   express are counted, the first reasons kept), add prompt variants; the result is a local Parquet part
   per shard, with the form's units and the counts beside it.
2. tokenizer (setup): a new model's tokenizer from the first `tokenizer_examples` prepared prompts and the
   units of every part (small files): the same inputs the in-memory path gives it.
3. encode: each prepared part into an on-disk token part (slm.train.token_cache).
Parts are kept under the run's folder, keyed by the data and settings, so a resumed run reuses them.
Sequence order is the shards' order (a split in content-hash order), as the in-memory path reads it, so
the batcher draws the same batches; prompt variants are drawn per shard (shard 0 with the run's seed).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm.form.encode import try_encode
from slm.form.spec import FormSpec, units_of
from slm.shards import Shard, iter_rows, read_rows, shard_name, split_shards, verify_shards, write_shard
from slm.train.config import TrainConfig, TrainExample
from slm.train.data import prompt_variants
from slm.train.distributed import Dist
from slm.train.token_cache import TokenCache, part_exists, write_part

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

FAILURES_KEPT = 100


@dataclass(frozen=True)
class ShardSet:
    """A snapshot's train and validation shards in a local folder, as its manifest lists them."""

    folder: Path
    train: tuple[Shard, ...]
    validation: tuple[Shard, ...] = ()

    @classmethod
    def from_manifest(cls, folder: Path, manifest: dict[str, Any]) -> ShardSet:
        return cls(
            Path(folder),
            tuple(split_shards(manifest, "train")),
            tuple(split_shards(manifest, "validation")),
        )

    def as_dict(self) -> dict[str, Any]:
        shards = [s.as_dict() for s in (*self.train, *self.validation)]
        return {"folder": str(self.folder), "shards": shards}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShardSet:
        return cls.from_manifest(Path(d["folder"]), d)

    def fingerprint(self) -> str:
        """The data as its checksums say: a checkpoint resumes only on the same data."""
        joined = ",".join(f"{s.split}:{s.sha256}" for s in (*self.train, *self.validation))
        return hashlib.sha256(joined.encode()).hexdigest()


@dataclass
class Prepared:
    """What pass 1 left on disk, and what it counted."""

    folder: Path
    train_parts: list[Path]
    val_parts: list[Path]
    rows: int = 0  # prepared training sequences (variants included)
    designs: int = 0  # training designs kept (each once, whatever its prompt variants)
    unconvertible: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def own(count: int, dist: Dist | None) -> list[int]:
    """The shard indices this rank reads."""
    return list(range(count)) if dist is None else list(range(dist.rank, count, dist.world))


def prepare(
    data: ShardSet, config: TrainConfig, form: FormSpec | None, root: Path, dist: Dist | None
) -> Prepared:
    """Pass 1 on this rank's shards (kept parts reused), then every rank's counts."""
    # "parts": the layout of a part's stats; a change of it prepares afresh rather than misread old parts.
    key = {
        "data": data.fingerprint(),
        "form": config.svg_form,
        "variants": config.prompt_variants,
        "parts": 2,
    }
    key["seed"] = config.seed if config.prompt_variants > 1 else None
    folder = root / "stream" / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for split, shards in (("train", data.train), ("validation", data.validation)):
        for k in own(len(shards), dist):
            if not (folder / f"{split}-{k:05d}.stats.json").is_file():
                verify_shards(data.folder, [shards[k]])
                _prepare_shard(data.folder, shards[k], k, split, config, form, folder)
                _mark(folder / f"{split}-{k:05d}.stats.json", dist)
    if dist is not None:
        dist.barrier()  # every rank's parts are on disk
    prepared = Prepared(
        folder,
        [folder / shard_name("train", k) for k in range(len(data.train))],
        [folder / shard_name("validation", k) for k in range(len(data.validation))],
    )
    for part in prepared.train_parts:
        stats = json.loads(part.with_suffix(".stats.json").read_text())
        prepared.rows += stats["rows"]
        prepared.designs += stats["designs"]
        prepared.unconvertible += stats["unconvertible"]
        prepared.failures += stats["failures"][: FAILURES_KEPT - len(prepared.failures)]
    return prepared


def _prepare_shard(
    source: Path,
    shard: Shard,
    k: int,
    split: str,
    config: TrainConfig,
    form: FormSpec | None,
    folder: Path,
) -> None:
    stats: dict[str, Any] = {"rows": 0, "designs": 0, "unconvertible": 0, "failures": []}
    units: set[str] = set()
    # Shard 0 draws with the run's seed: a set of one shard gets the variants the in-memory path draws.
    rng = random.Random(config.seed if k == 0 else config.seed * 1_000_003 + k)
    variants = config.prompt_variants if split == "train" else 1

    def rows() -> Iterator[dict[str, Any]]:
        for row in iter_rows(source, [shard]):
            svg = row["svg"] or ""
            if form is not None:
                encoded, why = try_encode(svg, form)
                if encoded is None:
                    stats["unconvertible"] += 1
                    if len(stats["failures"]) < FAILURES_KEPT:
                        stats["failures"].append({"prompt": (row["prompt"] or "")[:200], "reason": why})
                    continue
                svg = encoded.text
                units.update(units_of([svg]))
            stats["designs"] += 1
            for prompt in prompt_variants(row["prompt"] or "", variants, rng):
                stats["rows"] += 1
                yield {"prompt": prompt, "svg": svg, "context": row["context"] or None}

    part = folder / shard_name(split, k)
    tmp = part.with_suffix(".tmp")
    write_shard(tmp, split, rows())
    tmp.replace(part)
    part.with_suffix(".units.json").write_text(json.dumps(sorted(units)))
    part.with_suffix(".stats.json").write_text(json.dumps(stats))  # last: the part is whole


def _mark(stats: Path, dist: Dist | None) -> None:
    """Which rank read the shard (the stats say so: a run's record, and what the tests check)."""
    data = json.loads(stats.read_text())
    stats.write_text(json.dumps({**data, "rank": dist.rank if dist is not None else 0}))


def examples(parts: list[Path], limit: int | None = None) -> Iterator[TrainExample]:
    """Prepared examples in order, streamed (the first `limit` of them)."""
    n = 0
    for part in parts:
        for row in read_rows(part):
            if limit is not None and n >= limit:
                return
            n += 1
            yield TrainExample(row["prompt"] or "", row["svg"] or "", row["context"] or None)


def all_units(prepared: Prepared) -> set[str]:
    out: set[str] = set()
    for part in prepared.train_parts:
        out.update(json.loads(part.with_suffix(".units.json").read_text()))
    return out


def encode_parts(
    prepared: Prepared, tokenizer: PreTrainedTokenizerFast, max_len: int, dist: Dist | None
) -> tuple[TokenCache, TokenCache, int]:
    """Pass 3: this rank's prepared parts into token parts (kept ones reused); both splits' caches, and
    how many training sequences were longer than max_len."""
    vocab = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:12]
    folder = prepared.folder / f"tokens-{vocab}-{max_len}"
    folder.mkdir(exist_ok=True)
    for parts in (prepared.train_parts, prepared.val_parts):
        for k in own(len(parts), dist):
            base = folder / parts[k].stem
            if not part_exists(base):
                write_part(base, tokenizer, examples([parts[k]]), max_len)
    if dist is not None:
        dist.barrier()
    train = [folder / p.stem for p in prepared.train_parts]
    skipped = sum(int(b.with_suffix(".skipped").read_text()) for b in train)
    return TokenCache(train), TokenCache([folder / p.stem for p in prepared.val_parts]), skipped
