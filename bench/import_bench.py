"""Import throughput: the platform's import (parse, sanitise, normalise, dedup, store; rows checked in
IMPORT_WORKERS processes) against a bare `bulk_create` of the same rows, in one run on the same database.
Prints rows/s and peak memory of each; the last line is `ratio=<platform rows/s ÷ bare rows/s>`.

Nothing but the clock runs while a side is timed. Peak memory is the resident set (RSS) above what the
process held before that side, sampled every 20 ms by a thread that only reads /proc: of this process,
and, for the platform, with its check workers added (each worker's own peak).

    python bench/import_bench.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
import time
from pathlib import Path

from _django import setup

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def children() -> list[int]:
    pids: list[int] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
        except OSError:
            pass
    return pids


class PeakRss:
    """Peak RSS of this process (above its level at start), and of its child processes (each one's peak
    above its level at start, or all of it for a child started meanwhile; summed), sampled every 20 ms."""

    def __init__(self) -> None:
        self.base = rss()
        self.peak = self.base
        self.child_base = {pid: rss(pid) for pid in children()}
        self.child_peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss())
            for pid in children():
                self.child_peaks[pid] = max(self.child_peaks.get(pid, 0), rss(pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    def report(self) -> str:
        own = (self.peak - self.base) / 2**20
        workers = sum(max(0, v - self.child_base.get(pid, 0)) for pid, v in self.child_peaks.items()) / 2**20
        return f"+{own:.0f} MiB RSS" + (
            f" (+ {workers:.0f} MiB in {len(self.child_peaks)} workers)" if workers else ""
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = setup("import-bench")

    from django.conf import settings
    from django.db import connection

    from slm.corpus import write_jsonl
    from slm.synthetic import generate_corpus
    from training.models import TrainingExample
    from training.services.import_run import import_batch_run
    from training.services.imports import import_batch_create

    path = work / "rows.jsonl"
    write_jsonl(generate_corpus(args.rows, seed=args.seed), path)
    size_mb = path.stat().st_size / 1e6
    print(
        f"rows={args.rows} file={size_mb:.1f} MB database={connection.vendor} import_workers={settings.IMPORT_WORKERS}"
    )

    # Platform: the same service the admin, the command and the API use.
    with PeakRss() as platform_mem:
        t0 = time.perf_counter()
        batch = import_batch_create(
            source_name=path.name, source_path=str(path), format="jsonl", mode="skip_invalid", enqueue=False
        )
        batch = import_batch_run(batch_id=batch.pk)
        platform_s = time.perf_counter() - t0
    assert batch.status == "completed", batch.error_log
    stored = TrainingExample.objects.count()
    print(
        f"platform: {batch.rows_read / platform_s:,.0f} rows/s, {platform_s:.1f} s, peak {platform_mem.report()}, "
        f"created={batch.rows_created} duplicates={batch.rows_duplicate} invalid={batch.rows_invalid}"
    )

    TrainingExample.all_objects.all().delete()

    # Bare: read, hash, bulk_create; no validation, no sanitising, no report.
    with PeakRss() as bare_mem:
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
    print(
        f"bare bulk_create: {n / bare_s:,.0f} rows/s, {bare_s:.1f} s, peak {bare_mem.report()}, "
        f"stored={TrainingExample.objects.count()} (platform stored {stored})"
    )
    print(f"ratio={(batch.rows_read / platform_s) / (n / bare_s):.3f}")


if __name__ == "__main__":
    main()
