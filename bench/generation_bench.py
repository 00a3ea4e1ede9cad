"""Generation latency, throughput and the platform's own overhead: the platform (API + queue + worker +
sanitise + render + store) against bare CTranslate2 `generate_batch` calls on the same converted model,
prompts and token budget, in one run.

(a) latency: POST /api/v1/generations/?wait=60 (one design, greedy) vs one bare CTranslate2
    `generate_batch` call (greedy, batch 1, the same prompt, token budget and threads, in the bench's
    process), per prompt; the medians' ratio is `latency_ratio`. Every prompt's tokens are checked to be
    the same on both sides, and on transformers' `model.generate` (timed as well, for comparison). The
    answer comes once the sanitised SVG is stored; the worker renders the 512 px PNG right after, so the
    time until the PNG is stored is printed too. Before every timed call the worker is idle (PNGs
    included), so neither side runs beside the other's leftovers. Each API call is also broken down into
    its parts (see PARTS in _generation_parts.py), timed by wrapping the functions that do them; the calls go through Django's
    test client (no socket), and the same calls through a real socket are timed after, as `http:`.
(b) throughput: N concurrent API requests through the in-process worker (whose decode process batches
    the requests in flight) vs N sequential bare CTranslate2 calls (and, printed, N sequential
    `model.generate` calls); `throughput_ratio` is platform requests/s ÷ bare requests/s.

Without --model-dir a tiny model is trained on the synthetic corpus first (--train-seconds).
DATABASE_URL picks the database (a throw-away SQLite file by default).
The last two lines are `latency_ratio=<x>` and `throughput_ratio=<y>`.

    python bench/generation_bench.py [--model-dir DIR] [--train-seconds 60] [--repeats 15] [--concurrent 16]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

from _django import setup
from _generation_parts import PARTS, Baseline, Platform, Spans, instrument, train_tiny


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default="", help="A trained model folder (skips training).")
    parser.add_argument("--train-seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--concurrent", type=int, default=16)
    args = parser.parse_args()
    work = setup("generation-bench")

    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from core.embedded import start_embedded_worker, stop_embedded_worker
    from core.models import User
    from core.roles import API_CONSUMERS
    from generation.models import DesignOutput
    from slm.decode.ct2 import convert
    from slm.synthetic import generate_corpus
    from training.artifacts import artifacts_upload
    from training.models import ModelAlias, SLMModel

    model_dir = Path(args.model_dir) if args.model_dir else train_tiny(work, args.train_seconds)
    ct2_dir = convert(model_dir)  # what registration does: the conversion is an artifact beside the weights
    prefix = artifacts_upload(local_dir=model_dir, prefix="models/bench-slm/1")
    model = SLMModel.objects.create(model_name="bench-slm", version=1, storage_path=prefix)
    ModelAlias.objects.create(name="production", model_version=model)
    user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
    user.groups.add(Group.objects.get(name=API_CONSUMERS))  # generating through the API is their role
    token = Token.objects.create(user=user).key

    baseline = Baseline(
        model_dir,
        ct2_dir,
        threads=settings.GENERATION_DECODE_THREADS,
        max_new=settings.GENERATION_MAX_NEW_TOKENS,
    )
    threads = settings.GENERATION_DECODE_THREADS
    print(
        f"database {connection.vendor}; platform decodes through {settings.GENERATION_ENGINE} in "
        f"{'its own process' if settings.GENERATION_DECODE_PROCESS else 'a thread'}, {threads} thread(s), "
        f"batch window {settings.GENERATION_BATCH_WINDOW_MS:g} ms; bare CTranslate2 in this process, same "
        "threads"
    )
    prompts = [e.prompt for e in generate_corpus(max(args.repeats, args.concurrent) + 1, seed=999)]
    bare, hf = baseline.bare, baseline.hf
    platform = Platform(token)
    api, idle, png_ms, http_cost = platform.api, platform.idle, platform.png_ms, platform.http_cost

    spans = Spans()
    instrument(spans)
    start_embedded_worker()
    try:
        for _ in range(2):  # warm-up: first-call costs (allocations, render workers) are not measured
            bare(prompts[-1])
            hf(prompts[-1])
            api(prompts[-1])
            idle()

        # (a) latency, interleaved (and the order alternated) so drift hits both sides alike
        bare_t, hf_t, api_t, statuses = [], [], [], []
        bare_tokens: list[list[int]] = []
        hf_tokens: list[list[int]] = []
        api_tokens: list[int] = []
        breakdown: list[dict[str, float]] = []

        def timed_api(p: str) -> float:
            spans.begin()
            a = api(p, statuses, api_tokens)
            breakdown.append(spans.end(a))
            return a

        before = set(DesignOutput.objects.values_list("pk", flat=True))
        for i, p in enumerate(prompts[: args.repeats]):
            if i % 2:
                a = timed_api(p)
                idle()
                b, h = bare(p, bare_tokens), hf(p, hf_tokens)
            else:
                h, b = hf(p, hf_tokens), bare(p, bare_tokens)
                a = timed_api(p)
                idle()
            bare_t.append(b)
            hf_t.append(h)
            api_t.append(a)
        assert bare_tokens == hf_tokens, "CTranslate2 and model.generate decoded other tokens"
        assert api_tokens == [len(t) for t in bare_tokens], ("the platform decoded other tokens", api_tokens)
        med = {
            name: statistics.median(x) * 1000 for name, x in (("bare", bare_t), ("hf", hf_t), ("api", api_t))
        }
        print(
            f"latency: bare CTranslate2 median {med['bare']:.1f} ms, model.generate median {med['hf']:.0f} ms, "
            f"api median {med['api']:.1f} ms over {args.repeats} prompts (same tokens on all three; "
            f"{statuses.count('completed')} completed, {statuses.count('failed')} failed: no usable design); "
            f"PNG stored after a median {statistics.median(png_ms(before)):.0f} ms"
        )
        parts = {k: statistics.median([b.get(k, 0.0) for b in breakdown]) * 1000 for k in PARTS}
        print(
            "overhead breakdown (median ms per API call): "
            + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
            + f"; sum {sum(parts.values()):.1f} of {med['api']:.1f}"
        )
        print(
            f"model_generate_ratio={med['api'] / med['hf']:.3f} (platform API ÷ transformers model.generate)"
        )
        http_ms, client_ms = http_cost(prompts[: args.repeats])
        print(
            f"http: median {http_ms:.1f} ms a call through a socket (Django's threaded WSGI server, a new "
            f"connection a call) against {client_ms:.1f} ms through the test client: +{http_ms - client_ms:.1f} "
            "ms (gunicorn, as deployed, is not measured here)"
        )

        # (b) throughput: N concurrent API requests vs N sequential bare calls
        batch = prompts[: args.concurrent]
        t0 = time.perf_counter()
        for p in batch:
            bare(p)
        bare_total = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in batch:
            hf(p)
        hf_total = time.perf_counter() - t0
        before = set(DesignOutput.objects.values_list("pk", flat=True))
        results: list[str] = []
        workers = [threading.Thread(target=api, args=(p, results)) for p in batch]
        t0 = time.perf_counter()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        api_total = time.perf_counter() - t0
        idle()
        with_pngs = time.perf_counter() - t0
        assert len(results) == len(batch), "some concurrent requests failed"
        sizes = [
            (o.design_metadata.get("batch") or {}).get("size", 0)
            for o in DesignOutput.objects.exclude(pk__in=before)
        ]
        print(
            f"throughput: {len(batch)} sequential bare CTranslate2 calls {bare_total:.3f} s "
            f"({len(batch) / bare_total:.1f} req/s), model.generate {hf_total:.2f} s "
            f"({len(batch) / hf_total:.1f} req/s); {len(batch)} concurrent API requests {api_total:.3f} s "
            f"({len(batch) / api_total:.1f} req/s), {with_pngs:.2f} s until every PNG was stored; "
            f"most requests sharing a decode call {max(sizes)}"
        )
    finally:
        stop_embedded_worker()

    print(f"latency_ratio={med['api'] / med['bare']:.3f}")
    print(f"throughput_ratio={(len(batch) / api_total) / (len(batch) / bare_total):.3f}")


if __name__ == "__main__":
    main()
