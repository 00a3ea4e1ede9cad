"""Generation overhead and batching: the platform (API + queue + worker + sanitise + render + store) against
bare transformers `model.generate` calls on the same loaded model, prompts and seeds, in one run.

(a) latency: POST /api/v1/generations/?wait=60 (one design, greedy) vs one bare `model.generate` call
    (greedy, the same token budget), per prompt; prints the median of the per-prompt ratios (platform
    time ÷ bare time, lower is better). The platform decodes with its own loop (training.ml.sampling
    with the lean GPT-2 forward of training.ml.fastpath), so the same prompts are also timed through that
    loop called bare: platform ÷ own loop is the platform's overhead around its model, printed as well.
    Every prompt's tokens are checked to be the same on all three paths. The answer comes once the
    sanitised SVG is stored; the worker renders the 512 px PNG right after, so the time until the PNG is
    stored is printed too. Before every timed call the worker is idle (PNGs included), so neither side
    runs beside the other's leftovers.
(b) throughput: N concurrent API requests through the in-process worker (whose decode loop batches
    every request in flight: they join and leave between steps) vs N sequential bare `model.generate`
    calls (and, printed, N sequential calls of the own loop); prints platform requests/s ÷ bare
    requests/s, and the time until every PNG of the N is stored as well.

Without --model-dir a tiny model is trained on the synthetic corpus first (--train-seconds).
The last two lines are `latency_ratio=<x>` and `throughput_ratio=<y>`.

    python bench/generation_bench.py [--model-dir DIR] [--train-seconds 60] [--repeats 7] [--concurrent 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

from _django import setup

SEED = 1234


def train_tiny(work: Path, seconds: float) -> Path:
    from training.ml.synthetic import generate_corpus, make_splits
    from training.ml.train.config import TrainConfig
    from training.ml.train.loop import train

    splits = make_splits(seed=0, heldout=50, compositional=0)
    examples = list(generate_corpus(20_000, seed=100, exclude=splits.exclude))
    t0 = time.perf_counter()
    result = train(TrainConfig(budget_seconds=seconds, seed=0), examples, splits.heldout, work / "model")
    print(
        f"trained: {result.steps} steps in {time.perf_counter() - t0:.0f} s, val_loss={result.val_loss:.3f}"
    )
    assert result.final_dir is not None
    return result.final_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default="", help="A trained model folder (skips training).")
    parser.add_argument("--train-seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--concurrent", type=int, default=16)
    args = parser.parse_args()
    work = setup("generation-bench")

    from django.contrib.auth.models import Group
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from core.embedded import start_embedded_worker, stop_embedded_worker
    from core.jobs.models import ACTIVE
    from core.models import User
    from core.roles import API_CONSUMERS
    from generation.models import DesignOutput, OutputImage
    from training.artifacts import artifacts_upload
    from training.ml.synthetic import generate_corpus
    from training.models import ModelAlias, SLMModel

    model_dir = Path(args.model_dir) if args.model_dir else train_tiny(work, args.train_seconds)
    prefix = artifacts_upload(local_dir=model_dir, prefix="models/bench-slm/1")
    model = SLMModel.objects.create(model_name="bench-slm", version=1, storage_path=prefix)
    ModelAlias.objects.create(name="production", model_version=model)
    user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
    user.groups.add(Group.objects.get(name=API_CONSUMERS))  # generating through the API is their role
    token = Token.objects.create(user=user).key

    # The bare side: the same model files loaded in this process, on the same device, with the torch
    # threads the platform's decode process uses (its own process, since GENERATION_DECODE_PROCESS).
    import torch
    from django.conf import settings

    from training.ml.sampling import Generator
    from training.ml.tokenizer import build_prefix_ids, decode

    threads = settings.GENERATION_DECODE_THREADS
    if threads:
        torch.set_num_threads(threads)
    generator = Generator(model_dir, lean=settings.GENERATION_LEAN_DECODE)
    print(
        f"platform decodes in {'its own process' if settings.GENERATION_DECODE_PROCESS else 'a thread'}, "
        f"{torch.get_num_threads()} torch thread(s), "
        f"{'lean' if generator.lean is not None else 'transformers'} forward; bare in this process, "
        "same threads"
    )
    prompts = [e.prompt for e in generate_corpus(max(args.repeats, args.concurrent) + 1, seed=999)]
    max_new = 256
    start_embedded_worker()

    def bare(prompt: str, tokens: list[int] | None = None) -> float:
        """transformers' own generate: greedy, the same budget and end token as the platform."""
        ids = torch.tensor([build_prefix_ids(generator.tokenizer, [prompt])[0]], device=generator.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = generator.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=max_new,
                eos_token_id=generator.eos_id,
                pad_token_id=generator.pad_id,
            )
        elapsed = time.perf_counter() - t0
        if tokens is not None:
            new = [t for t in out[0, ids.shape[1] :].tolist() if t != generator.eos_id]
            tokens.append(len(new))
            own_text = generator.generate([prompt], n=1, temperature=0.0, max_new_tokens=max_new)[0][0].text
            assert own_text == decode(generator.tokenizer, new), "own loop and model.generate disagree"
        return elapsed

    def own(prompt: str) -> float:
        t0 = time.perf_counter()
        generator.generate([prompt], n=1, seed=SEED, temperature=0.0, max_new_tokens=max_new)
        return time.perf_counter() - t0

    def api(prompt: str, statuses: list[str] | None = None, tokens: list[int] | None = None) -> float:
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        t0 = time.perf_counter()
        response = client.post(
            "/api/v1/generations/?wait=60",
            data=json.dumps({"text": prompt, "seed": SEED, "temperature": 0}),
            content_type="application/json",
        )
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200, (response.status_code, response.content[:300])
        body = response.json()
        if statuses is not None:
            statuses.append(body["status"])
        if tokens is not None:
            tokens.append(body["design_metadata"]["tokens"]["generated"])
        return elapsed

    def idle(timeout: float = 60.0) -> None:
        """Wait (untimed) until the worker has nothing left: no open request, every design's PNG stored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            open_requests = DesignOutput.objects.filter(status__in=ACTIVE).exists()
            svgs = OutputImage.objects.filter(file_type="svg").count()
            if not open_requests and OutputImage.objects.filter(file_type="png").count() == svgs:
                return
            time.sleep(0.005)
        raise RuntimeError("the worker did not go idle")

    def png_ms(since: set[object]) -> list[float]:
        """Per new request: from its creation to its last PNG stored (from the rows' own timestamps)."""
        out = []
        for o in DesignOutput.objects.exclude(pk__in=since).filter(status="completed"):
            last = max(i.created_at for i in o.images.all())
            out.append((last - o.created_at).total_seconds() * 1000)
        return out

    try:
        bare(prompts[-1])  # warm-up: first-call costs (allocations, render workers) are not what we measure
        own(prompts[-1])
        api(prompts[-1])
        idle()

        # (a) latency, interleaved (and the order alternated) so drift hits both sides alike
        ratios, own_ratios, bare_t, own_t, api_t, statuses = [], [], [], [], [], []
        bare_tokens: list[int] = []
        api_tokens: list[int] = []
        before = set(DesignOutput.objects.values_list("pk", flat=True))
        for i, p in enumerate(prompts[: args.repeats]):
            if i % 2:
                a = api(p, statuses, api_tokens)
                idle()
                b, o = bare(p, bare_tokens), own(p)
            else:
                o, b = own(p), bare(p, bare_tokens)
                a = api(p, statuses, api_tokens)
                idle()
            bare_t.append(b)
            own_t.append(o)
            api_t.append(a)
            ratios.append(a / b)
            own_ratios.append(a / o)
        assert api_tokens == bare_tokens, ("the platform decoded other tokens", api_tokens, bare_tokens)
        print(
            f"latency: model.generate median {statistics.median(bare_t) * 1000:.0f} ms, own decode loop "
            f"median {statistics.median(own_t) * 1000:.0f} ms, api median {statistics.median(api_t) * 1000:.0f} "
            f"ms over {args.repeats} prompts (same tokens on all three; {statuses.count('completed')} "
            f"completed, {statuses.count('failed')} failed: no usable design); PNG stored after a median "
            f"{statistics.median(png_ms(before)):.0f} ms"
        )
        print(f"overhead_ratio_vs_own_loop={statistics.median(own_ratios):.3f}")

        # (b) throughput: N concurrent API requests vs N sequential bare calls
        batch = prompts[: args.concurrent]
        t0 = time.perf_counter()
        for p in batch:
            bare(p)
        bare_total = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in batch:
            own(p)
        own_total = time.perf_counter() - t0
        before = set(DesignOutput.objects.values_list("pk", flat=True))
        results: list[str] = []
        threads = [threading.Thread(target=api, args=(p, results)) for p in batch]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
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
            f"throughput: {len(batch)} sequential model.generate calls {bare_total:.2f} s "
            f"({len(batch) / bare_total:.1f} req/s), of the own loop {own_total:.2f} s "
            f"({len(batch) / own_total:.1f} req/s); {len(batch)} concurrent API requests {api_total:.2f} s "
            f"({len(batch) / api_total:.1f} req/s), {with_pngs:.2f} s until every PNG was stored; "
            f"most requests sharing a decode step {max(sizes)}"
        )
    finally:
        stop_embedded_worker()

    print(f"latency_ratio={statistics.median(ratios):.3f}")
    print(f"throughput_ratio={(len(batch) / api_total) / (len(batch) / bare_total):.3f}")


if __name__ == "__main__":
    main()
