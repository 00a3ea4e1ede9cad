"""Peak memory of the streaming paths (issue 25) at two data set sizes: it should follow the chunk size,
the batch and the model, not the row count. Each measurement runs in a fresh process (ru_maxrss is a
process's peak), with its data built beforehand by this process.

- snapshot: `dataset_snapshot_create` + `dataset_export` (Parquet shards, no JSONL) of N examples, on
  DATABASE_URL (PostgreSQL for the server-side cursor; SQLite otherwise).
- train: `train()` on N synthetic examples as Parquet shards (slm.train.stream), `--steps` steps of the
  tiny model: its preparation, tokenizer, on-disk token cache and first steps.

Prints, per stage and size, rows/s (snapshot) or the call's seconds (train: preparation, cache, steps,
the final model), and peak RSS (MB, and above the process's RSS after its imports), then
`snapshot_rss_growth=<f> train_rss_growth=<f>`: peak RSS at the larger size ÷ at the smaller.

    python bench/stream_memory.py [--rows 5000 20000] [--steps 20] [--only snapshot|train]

Small sizes prove it works; the figures for the README come from 100,000 and 400,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux


def synthetic_rows(n: int):
    from slm.synthetic import generate_corpus

    for i, ex in enumerate(generate_corpus(n, seed=5)):
        yield {"prompt": f"{ex.prompt} #{i}", "svg": ex.svg, "context": None}


# --- children: one measurement each, a JSON line on stdout ---


def child_train(folder: Path, steps: int) -> dict:
    from slm.shards import Shard
    from slm.train.loop import train
    from slm.train.stream import ShardSet
    from tests.shared_fixtures import tiny_config

    manifest = json.loads((folder / "manifest.json").read_text())
    data = ShardSet(folder, tuple(Shard.from_dict(s) for s in manifest["shards"]))
    start, t = rss_mb(), time.perf_counter()
    train(tiny_config(max_steps=steps, checkpoint_every=0, cpu_bf16=False), data, [], folder / "run")
    return {"start_mb": start, "peak_mb": peak_mb(), "seconds": time.perf_counter() - t}


def child_snapshot() -> dict:
    from bench._django import setup

    setup("stream-memory")
    from training.models import TrainingExample
    from training.services.snapshots import dataset_export, dataset_snapshot_create

    start, t = rss_mb(), time.perf_counter()
    examples = TrainingExample.objects.filter(source_type="bench-stream")
    snap = dataset_snapshot_create(name="bench-stream", examples=examples, enqueue=False, export_jsonl=False)
    done = dataset_export(dataset_id=snap.pk)
    assert done.status == "ready", done.error_message
    return {
        "start_mb": start,
        "peak_mb": peak_mb(),
        "rows_per_s": done.record_count / (time.perf_counter() - t),
    }


# --- the parent: data, then one child per measurement ---


def build_examples(n: int) -> None:
    from bench._django import setup

    setup("stream-memory")
    from training.models import TrainingExample

    TrainingExample.objects.filter(source_type="bench-stream").delete()
    batch = []
    for i, row in enumerate(synthetic_rows(n)):
        digest = f"{i:064x}"
        batch.append(
            TrainingExample(
                prompt=row["prompt"], svg_content=row["svg"], content_hash=digest, source_type="bench-stream"
            )
        )
        if len(batch) >= 5000:
            TrainingExample.objects.bulk_create(batch)
            batch = []
    TrainingExample.objects.bulk_create(batch)


def build_shards(n: int, folder: Path) -> None:
    from slm.shards import write_shard

    rows, shards, per = synthetic_rows(n), [], 50_000
    for k in range(0, n, per):
        part = (next(rows) for _ in range(min(per, n - k)))
        shards.append(write_shard(folder / f"train-{k // per:05d}.parquet", "train", part).as_dict())
    (folder / "manifest.json").write_text(json.dumps({"shards": shards}))


def run_child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs=2, default=[5000, 20000])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only", choices=["snapshot", "train"])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        result = child_train(Path(args.child[1]), args.steps) if kind == "train" else child_snapshot()
        print(json.dumps(result))
        return
    work = Path(tempfile.mkdtemp(prefix="atelier-stream-memory-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("DATABASE_URL", f"sqlite:///{work / 'bench.sqlite3'}")
    env.setdefault("ATELIER_VAR_DIR", str(work))
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "ATELIER_VAR_DIR")})
    peaks: dict[str, list[float]] = {"snapshot": [], "train": []}
    for n in args.rows:
        if args.only in (None, "snapshot"):
            build_examples(n)
            r = run_child(["--child", "snapshot"], env)
            peaks["snapshot"].append(r["peak_mb"])
            print(
                f"snapshot rows={n} rows_per_s={r['rows_per_s']:.0f} peak_rss_mb={r['peak_mb']:.0f} "
                f"above_start_mb={r['peak_mb'] - r['start_mb']:.0f}",
                flush=True,
            )
        if args.only in (None, "train"):
            folder = work / f"shards-{n}"
            folder.mkdir()
            build_shards(n, folder)
            r = run_child(["--child", "train", str(folder), "--steps", str(args.steps)], env)
            peaks["train"].append(r["peak_mb"])
            print(
                f"train rows={n} rows_per_s={r['rows_per_s']:.0f} peak_rss_mb={r['peak_mb']:.0f} "
                f"above_start_mb={r['peak_mb'] - r['start_mb']:.0f}",
                flush=True,
            )

    def growth(kind: str) -> str:
        p = peaks[kind]
        return f"{p[1] / p[0]:.3f}" if len(p) == 2 else "nan"

    print(f"snapshot_rss_growth={growth('snapshot')} train_rss_growth={growth('train')}")


if __name__ == "__main__":
    main()
