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
    its parts (see PARTS), timed by wrapping the functions that do them; the calls go through Django's
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
import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _django import setup

SEED = 1234
# The parts of one API call, in order. The request thread: DRF (auth, throttles, parsing, validation:
# the call's time outside every other part), `row` (generation_create: the prompt and request rows, the
# message queued on commit), then it waits; the worker: `hop` (from the commit to the worker's claim
# starting), `claim`, `decode` (the request's trip through the decode process), `sanitise` and `probe`
# (core.svg's clean and the 64 px blank check, for each candidate), `store` (the designs and the
# completed row in one transaction), `wake` (from the commit to the waiting call running again); the
# request thread again: `answer` (serialising the response) and `request log` (the ApiRequest row handed
# to the log's writer thread, which stores it off the answer's path; API_LOG_WRITE=inline writes it here).
PARTS = (
    "drf",
    "row",
    "hop",
    "claim",
    "decode",
    "sanitise",
    "probe",
    "store",
    "wake",
    "answer",
    "request log",
)


class Spans:
    """Per-part durations of the call in flight (the latency pass runs one call at a time)."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = defaultdict(float)
        self.marks: dict[str, float] = {}
        self.on = False

    def wrap(
        self, name: str, fn: Callable[..., Any], *, start: str = "", end: str = ""
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            if self.on and start:
                self.marks[start] = t0
            try:
                return fn(*args, **kwargs)
            finally:
                t1 = time.perf_counter()
                if self.on:
                    self.parts[name] += t1 - t0
                    if end:
                        self.marks[end] = t1

        return timed

    def begin(self) -> None:
        self.parts.clear()
        self.marks.clear()
        self.on = True

    def end(self, total: float) -> dict[str, float]:
        self.on = False
        p, m = dict(self.parts), self.marks
        p["hop"] = max(0.0, m.get("claim_start", 0) - m.get("row_end", 0))
        p["wake"] = max(0.0, m.get("wait_end", 0) - m.get("store_end", 0))
        waited = m.get("wait_end", 0) - m.get("row_end", 0)
        inside = p.get("row", 0) + waited + p.get("answer", 0) + p.get("request log", 0)
        p["drf"] = max(0.0, total - inside)
        return p


def train_tiny(work: Path, seconds: float) -> Path:
    from slm.corpus import make_splits
    from slm.synthetic import generate_corpus
    from slm.train.config import TrainConfig
    from slm.train.loop import train

    splits = make_splits(seed=0, heldout=50, compositional=0)
    examples = list(generate_corpus(20_000, seed=100, exclude=splits.exclude))
    t0 = time.perf_counter()
    result = train(TrainConfig(budget_seconds=seconds, seed=0), examples, splits.heldout, work / "model")
    print(
        f"trained: {result.steps} steps in {time.perf_counter() - t0:.0f} s, val_loss={result.val_loss:.3f}"
    )
    assert result.final_dir is not None
    return result.final_dir


def instrument(spans: Spans) -> None:
    """Wrap the functions each part runs in (module globals, looked up at call time)."""
    import core.jobs.actor as actor
    import generation.api as api
    import generation.selectors as selectors
    import generation.services.candidates as candidates
    import generation.services.pipeline as pipeline
    from core.api import api_request_done
    from generation.api_log import api_request_log

    api.generation_create = spans.wrap("row", api.generation_create, end="row_end")
    actor.job_claim = spans.wrap("claim", actor.job_claim, start="claim_start")
    pipeline._generate = spans.wrap("decode", pipeline._generate)
    candidates.clean_svg = spans.wrap("sanitise", candidates.clean_svg)
    candidates.check_visible = spans.wrap("probe", candidates.check_visible)
    pipeline.generation_complete = spans.wrap("store", pipeline.generation_complete, end="store_end")
    selectors_wait = selectors.generation_wait
    api.selectors.generation_wait = spans.wrap("_wait", selectors_wait, end="wait_end")
    serializer = api.GenerationSerializer

    class TimedSerializer(serializer):  # type: ignore[misc, valid-type]
        @property
        def data(self) -> Any:
            t0 = time.perf_counter()
            try:
                return super().data
            finally:
                if spans.on:
                    spans.parts["answer"] += time.perf_counter() - t0

    api.GenerationSerializer = TimedSerializer
    api_request_done.disconnect(dispatch_uid="generation.api_request_log")
    api_request_done.connect(
        spans.wrap("request log", api_request_log), dispatch_uid="generation.api_request_log", weak=False
    )


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
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from core.embedded import start_embedded_worker, stop_embedded_worker
    from core.jobs.models import ACTIVE
    from core.models import User
    from core.roles import API_CONSUMERS
    from generation.api_log import api_log_flush
    from generation.models import DesignOutput, OutputImage
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

    # The bare side: the same converted model loaded in this process, on the same device, with the
    # threads the platform's decode process uses.
    import ctranslate2
    import torch

    from slm.model import load_model, max_positions
    from slm.tokenizer import build_prefix_ids, load_tokenizer, tokenizer_dir

    threads = settings.GENERATION_DECODE_THREADS
    if threads:
        torch.set_num_threads(threads)
    engine = ctranslate2.Generator(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=threads)
    vocabulary = json.loads((ct2_dir / "vocabulary.json").read_text())
    tokenizer = load_tokenizer(tokenizer_dir(model_dir))
    hf_model = load_model(model_dir, "cpu").eval()
    eos, pad = int(tokenizer.eos_token_id), int(tokenizer.pad_token_id)
    positions = max_positions(hf_model)
    print(
        f"database {connection.vendor}; platform decodes through {settings.GENERATION_ENGINE} in "
        f"{'its own process' if settings.GENERATION_DECODE_PROCESS else 'a thread'}, {threads} thread(s), "
        f"batch window {settings.GENERATION_BATCH_WINDOW_MS:g} ms; bare CTranslate2 in this process, same "
        "threads"
    )
    prompts = [e.prompt for e in generate_corpus(max(args.repeats, args.concurrent) + 1, seed=999)]
    max_new = settings.GENERATION_MAX_NEW_TOKENS

    def prefix_of(prompt: str) -> list[int]:
        return build_prefix_ids(tokenizer, [prompt])[0]

    def bare(prompt: str, tokens: list[list[int]] | None = None) -> float:
        """One CTranslate2 generate_batch call: greedy, batch 1, the platform's budget and end token."""
        ids = prefix_of(prompt)
        start = [vocabulary[i] for i in ids]
        budget = min(max_new, positions - len(ids))
        t0 = time.perf_counter()
        result = engine.generate_batch(
            [start], max_length=budget, include_prompt_in_result=False, end_token=[eos], sampling_topk=1
        )
        elapsed = time.perf_counter() - t0
        if tokens is not None:
            tokens.append(list(result[0].sequences_ids[0]))
        return elapsed

    def hf(prompt: str, tokens: list[list[int]] | None = None) -> float:
        """transformers' own model.generate: greedy, the same budget and end token."""
        ids = torch.tensor([prefix_of(prompt)])
        budget = min(max_new, positions - ids.shape[1])
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = hf_model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=budget,
                eos_token_id=eos,
                pad_token_id=pad,
            )
        elapsed = time.perf_counter() - t0
        if tokens is not None:
            new = out[0, ids.shape[1] :].tolist()
            tokens.append(new[: new.index(eos)] if eos in new else new)
        return elapsed

    clients = threading.local()

    def api(prompt: str, statuses: list[str] | None = None, tokens: list[int] | None = None) -> float:
        # One client per thread, as a server keeps its handler (middleware loaded once) between calls.
        client = getattr(clients, "client", None) or Client(HTTP_AUTHORIZATION=f"Token {token}")
        clients.client = client
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
        if tokens is not None and "tokens" in body["design_metadata"]:
            # A failed request (an untrained model's "no usable design") has no token counts.
            tokens.append(body["design_metadata"]["tokens"]["generated"])
        return elapsed

    def idle(timeout: float = 60.0) -> None:
        """Wait (untimed) until the worker has nothing left: no open request, every design's PNG stored,
        every request's log row written."""
        deadline = time.monotonic() + timeout
        api_log_flush(timeout)
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

    def http_cost(batch: list[str]) -> tuple[float, float]:
        """The same calls through a real socket and HTTP parsing, alternated with test-client calls."""
        import urllib.request

        from django.core.handlers.wsgi import WSGIHandler
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
        server.set_app(WSGIHandler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/generations/?wait=60"
        via_http, via_client = [], []
        try:
            for p in batch:
                body = json.dumps({"text": p, "seed": SEED, "temperature": 0}).encode()
                request = urllib.request.Request(
                    url,
                    data=body,
                    headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
                )
                t0 = time.perf_counter()
                with urllib.request.urlopen(request, timeout=60) as answer:
                    assert answer.status == 200
                    answer.read()
                via_http.append(time.perf_counter() - t0)
                idle()
                via_client.append(api(p))
                idle()
        finally:
            server.shutdown()
            server.server_close()
        return statistics.median(via_http) * 1000, statistics.median(via_client) * 1000

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
