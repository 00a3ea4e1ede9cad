"""Scale: the platform at N examples on PostgreSQL, stage by stage.

Each size runs in a fresh process on a fresh database (created on DATABASE_URL's server, dropped after):
  import     N synthetic rows (JSONL) through the platform import (parse, sanitise, dedup, store), then
             ANALYZE (what autovacuum does on a live server) so the planner's statistics are current;
  freeze     `dataset_snapshot_create` over every example;
  export     `dataset_export` (the snapshot's export job, in this process);
  train      a training run on the snapshot (tiny model, one thread), cancelled through its own flag
             `--train-seconds` (60) after its first progress report: its data loading is timed to the
             run's "Training on …" event (reading the split) and to that first report (tokenizer and
             encoding too); its peak RSS covers the loading and the first minute of training;
  changelist the examples changelist as a superuser (plain, filtered, page 2), `--requests` times;
  search     the same changelist with a search term.
Each stage prints rows/s, peak RSS of the process while it ran (absolute, and above the stage's start)
and, where a person waits (changelist, search), the p95 latency.

With no --rows: 100,000 and 400,000 rows, each in its own process, then the last line
`snapshot_rss_growth=<f> train_rss_growth=<f> changelist_p95_ms=<f>`: the ratio of peak RSS at 400,000 rows
to peak RSS at 100,000 rows for freezing and exporting a snapshot (the larger of the two stages) and for
the training run, and the examples changelist's p95 at 400,000 rows. Sizes are fresh processes, so each
peak is comparable: same code loaded, same stages before it.

    DATABASE_URL=postgres://… python bench/scale_bench.py [--rows N] [--requests 40] [--train-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from import_bench import PeakRss, rss

DEFAULT_SIZES = (100_000, 400_000)
POOL = 5_000  # distinct synthetic designs; each row adds a numbered <title>, so every row is unique
SEARCH_TERMS = ("circle", "blue square", "row 12345", "zzz-no-match")


def _database(url: str, rows: int) -> tuple[str, str]:
    """A fresh database on url's server: (its URL, the server's maintenance URL)."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = f"{parts.path.lstrip('/') or 'atelier'}_scale_{rows}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), admin


def _drop(admin: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def _stage(results: dict, name: str, rows: int, seconds: float, mem: PeakRss, **extra: float) -> None:
    results[name] = {
        "rows_per_s": rows / seconds if seconds else 0.0,
        "seconds": seconds,
        "peak_rss_mib": mem.peak / 2**20,
        "rss_above_start_mib": (mem.peak - mem.base) / 2**20,
        **extra,
    }


def _write_rows(path: Path, rows: int) -> None:
    from slm.synthetic import generate_corpus

    pool = [(ex.prompt, ex.svg) for ex in generate_corpus(min(rows, POOL), seed=7)]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            prompt, svg = pool[i % len(pool)]
            svg = svg.replace(">", f"><title>row {i}</title>", 1)
            fh.write(json.dumps({"prompt": f"{prompt} (row {i})", "svg": svg}, separators=(",", ":")) + "\n")


def _timed_gets(client, urls: list[str], requests: int) -> list[float]:
    times = []
    for i in range(requests):
        url = urls[i % len(urls)]
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]


def run_one(rows: int, requests: int, train_seconds: int) -> dict:
    """Every stage at one size, in this process; the stages' figures."""
    from _django import setup

    work = setup("scale-bench")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from training.models import TrainingExample, TrainingRun
    from training.services.import_run import import_batch_run
    from training.services.imports import import_batch_create
    from training.services.runs import training_run_create, training_run_run
    from training.services.snapshots import dataset_export, dataset_snapshot_create

    assert connection.vendor == "postgresql", "scale_bench measures PostgreSQL: set DATABASE_URL"
    results: dict = {"rows": rows, "start_rss_mib": rss() / 2**20}
    path = work / "rows.jsonl"
    _write_rows(path, rows)

    with PeakRss() as mem:
        t0 = time.perf_counter()
        batch = import_batch_create(
            source_name=path.name, source_path=str(path), format="jsonl", mode="skip_invalid", enqueue=False
        )
        batch = import_batch_run(batch_id=batch.pk)
        _stage(results, "import", rows, time.perf_counter() - t0, mem)
    assert batch.status == "completed", batch.error_log
    stored = TrainingExample.objects.count()
    assert stored == rows, f"{stored} examples stored of {rows} rows"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    with PeakRss() as mem:
        t0 = time.perf_counter()
        snapshot = dataset_snapshot_create(
            name="scale", examples=TrainingExample.objects.all(), enqueue=False
        )
        _stage(results, "freeze", rows, time.perf_counter() - t0, mem)
    with PeakRss() as mem:
        t0 = time.perf_counter()
        snapshot = dataset_export(dataset_id=snapshot.pk)
        _stage(results, "export", rows, time.perf_counter() - t0, mem)
    assert snapshot.status == "ready", snapshot.error_message

    user = get_user_model().objects.create_superuser("scale", "scale@example.com", "scale-bench-pw")
    params = {
        **{"max_steps": 0, "budget_seconds": 10 * train_seconds, "batch_size": 8, "checkpoint_every": 10**6},
        **{"n_layer": 1, "n_embd": 32, "n_head": 2, "warmup_steps": 2, "num_threads": 1, "seed": 0},
    }
    run = training_run_create(dataset=snapshot, params=params, requested_by=user, enqueue=False)
    first_progress: list[float] = []

    def on_progress(_: object) -> None:
        # The first minute of training, then the run's own cancel flag (no evaluation after it).
        now = time.perf_counter()
        first_progress or first_progress.append(now)
        if now - first_progress[0] >= train_seconds:
            TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)

    with PeakRss() as mem:
        t0 = time.perf_counter()
        run = training_run_run(run_id=run.pk, on_progress=on_progress)
        total = time.perf_counter() - t0
    event = run.events.filter(message__startswith="Training on").first()
    read_s = (event.created_at - run.started_at).total_seconds() if event and run.started_at else total
    train_rows = snapshot.split["counts"]["train"]
    loading_s = (first_progress[0] - t0) if first_progress else total
    _stage(results, "train", train_rows, loading_s, mem, split_read_s=read_s, run_s=total)
    results["train"]["status"] = run.status

    client = Client()
    client.force_login(user)
    base = reverse("admin:training_trainingexample_changelist")
    pages = [base, f"{base}?status__exact=draft", f"{base}?source_type__exact=jsonl", f"{base}?p=2"]
    client.get(base)  # a first request loads templates and permissions, as a warm server has
    with PeakRss() as mem:
        t0 = time.perf_counter()
        times = _timed_gets(client, pages, requests)
        _stage(results, "changelist", 50 * requests, time.perf_counter() - t0, mem, p95_ms=_p95(times))
    with PeakRss() as mem:
        t0 = time.perf_counter()
        searches = [f"{base}?q={term.replace(' ', '+')}" for term in SEARCH_TERMS]
        times = _timed_gets(client, searches, requests)
        _stage(results, "search", 50 * requests, time.perf_counter() - t0, mem, p95_ms=_p95(times))
    connection.close()
    shutil.rmtree(work, ignore_errors=True)  # the rows file and the export: hundreds of MB at 400,000
    return results


def print_table(results: dict) -> None:
    print(f"rows={results['rows']} start RSS {results['start_rss_mib']:.0f} MiB")
    print(f"  {'stage':<11}{'rows/s':>10}{'seconds':>9}{'peak RSS MiB':>14}{'above start':>13}{'p95 ms':>9}")
    for name in ("import", "freeze", "export", "train", "changelist", "search"):
        s = results[name]
        p95 = f"{s['p95_ms']:.0f}" if "p95_ms" in s else "-"
        print(
            f"  {name:<11}{s['rows_per_s']:>10,.0f}{s['seconds']:>9.1f}{s['peak_rss_mib']:>14.0f}"
            f"{s['rss_above_start_mib']:>+13.0f}{p95:>9}"
        )
    t = results["train"]
    print(f"  train: split read in {t['split_read_s']:.1f} s, run {t['run_s']:.0f} s, {t['status']}")


def _child(rows: int, args: argparse.Namespace) -> dict:
    """One size in a fresh process (so its peaks owe nothing to the size before it)."""
    out = Path(f"/tmp/scale-bench-{os.getpid()}-{rows}.json")
    argv = [sys.executable, __file__, "--rows", str(rows), "--requests", str(args.requests)]
    argv += ["--train-seconds", str(args.train_seconds), "--json-out", str(out)]
    subprocess.run(argv, check=True)
    try:
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=0, help="one size; none: 100,000 and 400,000")
    parser.add_argument("--requests", type=int, default=40, help="changelist and search requests each")
    parser.add_argument("--train-seconds", type=int, default=60)
    parser.add_argument("--json-out", default="")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("scale_bench runs on PostgreSQL: set DATABASE_URL=postgres://…")
    if not args.rows:
        small, large = (_child(rows, args) for rows in DEFAULT_SIZES)

        def peak(r: dict, *stages: str) -> float:
            return max(r[s]["peak_rss_mib"] for s in stages)

        snapshot = peak(large, "freeze", "export") / peak(small, "freeze", "export")
        train = peak(large, "train") / peak(small, "train")
        print(
            f"snapshot_rss_growth={snapshot:.3f} train_rss_growth={train:.3f} "
            f"changelist_p95_ms={large['changelist']['p95_ms']:.1f}"
        )
        return
    db_url, admin = _database(url, args.rows)
    os.environ["DATABASE_URL"] = db_url
    try:
        results = run_one(args.rows, args.requests, args.train_seconds)
    finally:
        _drop(admin, db_url)
    print_table(results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
