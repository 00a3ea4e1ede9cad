"""generation_bench.py's parts: the per-part timer of one API call (Spans, PARTS, instrument), the tiny
model it trains without --model-dir, the bare side (CTranslate2 generate_batch and transformers'
model.generate on the same model) and the platform side (API calls through the test client or a socket)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


class Baseline:
    """The bare side: the same converted model loaded in this process, on the same device, with the
    threads the platform's decode process uses."""

    def __init__(self, model_dir: Path, ct2_dir: Path, *, threads: int, max_new: int) -> None:
        import ctranslate2
        import torch

        from slm.model import load_model, max_positions
        from slm.tokenizer import build_prefix_ids, load_tokenizer, tokenizer_dir

        if threads:
            torch.set_num_threads(threads)
        self.engine = ctranslate2.Generator(
            str(ct2_dir), device="cpu", compute_type="float32", intra_threads=threads
        )
        self.vocabulary = json.loads((ct2_dir / "vocabulary.json").read_text())
        self.tokenizer = load_tokenizer(tokenizer_dir(model_dir))
        self.hf_model = load_model(model_dir, "cpu").eval()
        self.eos, self.pad = int(self.tokenizer.eos_token_id), int(self.tokenizer.pad_token_id)
        self.positions = max_positions(self.hf_model)
        self.max_new = max_new
        self.build_prefix_ids = build_prefix_ids

    def prefix_of(self, prompt: str) -> list[int]:
        return self.build_prefix_ids(self.tokenizer, [prompt])[0]

    def bare(self, prompt: str, tokens: list[list[int]] | None = None) -> float:
        """One CTranslate2 generate_batch call: greedy, batch 1, the platform's budget and end token."""
        ids = self.prefix_of(prompt)
        start = [self.vocabulary[i] for i in ids]
        budget = min(self.max_new, self.positions - len(ids))
        t0 = time.perf_counter()
        result = self.engine.generate_batch(
            [start], max_length=budget, include_prompt_in_result=False, end_token=[self.eos], sampling_topk=1
        )
        elapsed = time.perf_counter() - t0
        if tokens is not None:
            tokens.append(list(result[0].sequences_ids[0]))
        return elapsed

    def hf(self, prompt: str, tokens: list[list[int]] | None = None) -> float:
        """transformers' own model.generate: greedy, the same budget and end token."""
        import torch

        eos = self.eos
        ids = torch.tensor([self.prefix_of(prompt)])
        budget = min(self.max_new, self.positions - ids.shape[1])
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.hf_model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=budget,
                eos_token_id=eos,
                pad_token_id=self.pad,
            )
        elapsed = time.perf_counter() - t0
        if tokens is not None:
            new = out[0, ids.shape[1] :].tolist()
            tokens.append(new[: new.index(eos)] if eos in new else new)
        return elapsed


class Platform:
    """The platform side: API calls as the bench's user (its token), and waiting for the worker."""

    def __init__(self, token: str) -> None:
        from django.test import Client

        self.token = token
        self.clients = threading.local()
        self.client_class = Client

    def api(self, prompt: str, statuses: list[str] | None = None, tokens: list[int] | None = None) -> float:
        clients, token, Client = self.clients, self.token, self.client_class
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

    def idle(self, timeout: float = 60.0) -> None:
        """Wait (untimed) until the worker has nothing left: no open request, every design's PNG and
        fingerprint stored, every request's log row written."""
        from core.jobs.models import ACTIVE
        from generation.api_log import api_log_flush
        from generation.models import DesignFingerprint, DesignOutput, OutputImage

        deadline = time.monotonic() + timeout
        api_log_flush(timeout)
        while time.monotonic() < deadline:
            open_requests = DesignOutput.objects.filter(status__in=ACTIVE).exists()
            svgs = OutputImage.objects.filter(file_type="svg").count()
            pngs = OutputImage.objects.filter(file_type="png").count()
            if not open_requests and pngs == svgs == DesignFingerprint.objects.count():
                return
            time.sleep(0.005)
        raise RuntimeError("the worker did not go idle")

    def png_ms(self, since: set[object]) -> list[float]:
        """Per new request: from its creation to its last PNG stored (from the rows' own timestamps)."""
        from generation.models import DesignOutput

        out = []
        for o in DesignOutput.objects.exclude(pk__in=since).filter(status="completed"):
            last = max(i.created_at for i in o.images.all())
            out.append((last - o.created_at).total_seconds() * 1000)
        return out

    def http_cost(self, batch: list[str]) -> tuple[float, float]:
        """The same calls through a real socket and HTTP parsing, alternated with test-client calls."""
        import urllib.request

        from django.core.handlers.wsgi import WSGIHandler
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

        token, api, idle = self.token, self.api, self.idle

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
