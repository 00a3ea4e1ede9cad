"""Import throughput: the platform's import (parse, sanitise, normalise, dedup, store) against a bare
`bulk_create` of the same rows, in one run on the same database. Prints rows/s and peak memory of each;
the last line is `ratio=<platform rows/s ÷ bare rows/s>`.

    python bench/import_bench.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import tracemalloc
from pathlib import Path

from _django import setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = setup("import-bench")

    from training.ml.synthetic import generate_corpus, write_jsonl
    from training.models import TrainingExample
    from training.services.imports import import_batch_create, import_batch_run

    path = work / "rows.jsonl"
    write_jsonl(generate_corpus(args.rows, seed=args.seed), path)
    size_mb = path.stat().st_size / 1e6
    print(f"rows={args.rows} file={size_mb:.1f} MB")

    # Platform: the same service the admin, the command and the API use.
    tracemalloc.start()
    t0 = time.perf_counter()
    batch = import_batch_create(
        source_name=path.name, source_path=str(path), format="jsonl", mode="skip_invalid", enqueue=False
    )
    batch = import_batch_run(batch_id=batch.pk)
    platform_s = time.perf_counter() - t0
    platform_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert batch.status == "completed", batch.error_log
    stored = TrainingExample.objects.count()
    print(
        f"platform: {batch.rows_read / platform_s:,.0f} rows/s, {platform_s:.1f} s, peak {platform_peak:.1f} MiB, "
        f"created={batch.rows_created} duplicates={batch.rows_duplicate} invalid={batch.rows_invalid}"
    )

    TrainingExample.all_objects.all().delete()

    # Bare: read, hash, bulk_create; no validation, no sanitising, no report.
    tracemalloc.start()
    t0 = time.perf_counter()
    n = 0
    chunk: list[TrainingExample] = []
    with Path(path).open("rb") as fh:
        for line in fh:
            row = json.loads(line)
            n += 1
            chunk.append(
                TrainingExample(
                    prompt=row["prompt"],
                    svg_content=row["svg"],
                    content_hash=hashlib.sha256(row["svg"].encode()).hexdigest(),
                )
            )
            if len(chunk) >= 1000:
                TrainingExample.objects.bulk_create(chunk, batch_size=500, ignore_conflicts=True)
                chunk = []
    if chunk:
        TrainingExample.objects.bulk_create(chunk, batch_size=500, ignore_conflicts=True)
    bare_s = time.perf_counter() - t0
    bare_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"bare bulk_create: {n / bare_s:,.0f} rows/s, {bare_s:.1f} s, peak {bare_peak:.1f} MiB, "
        f"stored={TrainingExample.objects.count()} (platform stored {stored})"
    )
    print(f"ratio={(batch.rows_read / platform_s) / (n / bare_s):.3f}")


if __name__ == "__main__":
    main()
