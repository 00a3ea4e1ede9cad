"""The decode process: same samples as a bare Generator, concurrent requests batched, crashes contained."""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from concurrent.futures import wait

import pytest

from slm.decode.ct2 import convert
from slm.decode.loop import BatchLoop
from slm.decode.sampling import Generator
from slm.decode.serving import DecodeServer
from slm.decode.types import DecodeRequest
from slm.synthetic import generate_corpus
from tests.ml.conftest import Trained

PROMPTS = [e.prompt for e in generate_corpus(8, seed=4321)]


@pytest.fixture(scope="module")
def model_dir(trained_model: Trained) -> str:
    assert trained_model.result.final_dir is not None
    convert(trained_model.result.final_dir)  # as registration does
    return str(trained_model.result.final_dir)


@pytest.fixture
def server(model_dir: str):
    server = DecodeServer(model_dir, num_threads=1, max_rows=64)
    yield server
    server.close()


@pytest.mark.slow
def test_the_decode_process_answers_what_a_bare_generator_does(server: DecodeServer, model_dir: str) -> None:
    bare = Generator(model_dir)
    futures = [server.submit(DecodeRequest(p, max_new_tokens=120)) for p in PROMPTS]
    results = [f.result(timeout=120) for f in futures]
    expected = [bare.generate([p], max_new_tokens=120)[0][0] for p in PROMPTS]
    assert [(r.samples[0].text, r.samples[0].tokens) for r in results] == [
        (s.text, s.tokens) for s in expected
    ]
    assert max(r.stats["size"] for r in results) > 1  # sent together, they shared decode steps
    assert server.info["engine"] == "ctranslate2" and server.info["compute_type"] == "float32"
    assert server.info["fallback_reason"] is None
    assert all(r.stats["steps"] >= 1 and r.stats["generate_ms"] >= 0 for r in results)
    sampled = server.submit(DecodeRequest(PROMPTS[0], n=3, seed=5, temperature=1.0, max_new_tokens=40))
    alone = bare.generate(PROMPTS[:1], n=3, seed=5, temperature=1.0, max_new_tokens=40)[0]
    assert [s.text for s in sampled.result(timeout=60).samples] == [s.text for s in alone]
    assert server.generate(PROMPTS[:2], max_new_tokens=120)[1][0].text == expected[1].text


@pytest.mark.slow
def test_a_killed_decode_process_fails_its_requests_and_the_next_one_restarts_it(
    server: DecodeServer,
) -> None:
    server.submit(DecodeRequest(PROMPTS[0], max_new_tokens=8)).result(timeout=120)
    first = server.pid
    in_flight = [server.submit(DecodeRequest(p, n=4, max_new_tokens=200)) for p in PROMPTS]
    os.kill(first, signal.SIGKILL)
    wait(in_flight, timeout=30)
    errors = [f.exception() for f in in_flight if f.exception() is not None]
    assert errors and all("decode process exited" in str(e) for e in errors)
    deadline = time.monotonic() + 5
    while server.pid == first and time.monotonic() < deadline:  # the reader notices the closed pipe
        time.sleep(0.05)
    assert server.pid != first, "the decode server never noticed its process had died"
    result = server.submit(DecodeRequest(PROMPTS[1], max_new_tokens=8)).result(timeout=120)
    assert server.pid not in (None, first) and result.samples[0].tokens <= 8


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path) -> None:
    server = DecodeServer(tmp_path / "missing", num_threads=1)
    with pytest.raises(RuntimeError, match="could not load the model"):
        server.submit(DecodeRequest("a red circle"))
    server.close()
    with pytest.raises(RuntimeError, match="closed"):
        server.submit(DecodeRequest("a red circle"))


class _Rows:
    """A stand-in batch: every request takes `steps` steps."""

    def __init__(self, steps: int = 2) -> None:
        self.rows: list[list] = []
        self.steps = steps

    def __bool__(self) -> bool:
        return bool(self.rows)

    def add(self, items):
        for key, request in items:
            self.rows += [[key, self.steps] for _ in range(request.n)]
        return {}

    def step(self):
        for row in self.rows:
            row[1] -= 1
        done = {row[0] for row in self.rows if row[1] <= 0}
        self.rows = [row for row in self.rows if row[1] > 0]
        return {key: ["sample"] for key in done}


def test_the_batch_loop_admits_only_what_fits_and_reports_how_requests_were_batched() -> None:
    loop = BatchLoop(lambda: _Rows(steps=2), max_rows=4)
    now = time.perf_counter()
    waiting = deque([("a", DecodeRequest("x", n=8), now)])
    assert [k for k, _, _ in loop.take(waiting)] == ["a"]  # an empty batch takes any request
    waiting = deque([("a", DecodeRequest("x", n=3), now), ("c", DecodeRequest("z", n=2), now)])
    loop.admit(loop.take(waiting))
    assert loop.take(waiting) == [] and [k for k, _, _ in waiting] == ["c"]  # 3 + 2 rows > 4
    waiting.appendleft(("b", DecodeRequest("y", n=1), now))
    loop.admit(loop.take(waiting))  # b fits beside a (4 rows); c still waits
    assert [k for k, _, _ in waiting] == ["c"]
    assert loop.step() == []
    done = dict(loop.step())
    assert set(done) == {"a", "b"} and done["a"].stats["size"] == 2 and done["a"].stats["steps"] == 2
    assert not loop


@pytest.mark.slow
def test_closing_finishes_the_requests_already_sent(model_dir: str) -> None:
    server = DecodeServer(model_dir, num_threads=1)
    server.submit(DecodeRequest(PROMPTS[0], max_new_tokens=8)).result(timeout=120)
    futures = [server.submit(DecodeRequest(p, max_new_tokens=60)) for p in PROMPTS[:4]]
    server.close()
    assert all(f.result(timeout=30).samples for f in futures)


def test_one_scheduler_batches_requests_from_every_caller_and_survives_a_failed_step() -> None:
    """The one decode loop (the decode process runs the same one): requests submitted from several
    threads while a step runs join the next step together; a step that raises fails only what was in
    flight, and the loop goes on."""
    import threading

    from slm.decode.loop import Scheduler

    entered, release = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    class Gated(_Rows):
        def add(self, items):
            seen.append([request.prompt for _, request in items])
            if any(request.prompt == "boom" for _, request in items):
                raise RuntimeError("boom")
            if not entered.is_set():
                entered.set()
                assert release.wait(10)
            return super().add(items)

    scheduler = Scheduler(lambda: Gated(steps=1), max_rows=8).start()
    first = scheduler.submit(DecodeRequest("alice-1"))
    assert entered.wait(10)
    others = []
    threads = [
        threading.Thread(target=lambda p=p: others.append(scheduler.submit(DecodeRequest(p))))
        for p in ("bob-1", "carol-1")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    release.set()
    assert first.result(10).stats["size"] == 1
    assert sorted(seen[1]) == ["bob-1", "carol-1"]  # both callers' requests in one step
    assert all(f.result(10).stats["size"] == 2 for f in others)
    failed = scheduler.submit(DecodeRequest("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        failed.result(10)
    assert scheduler.submit(DecodeRequest("after")).result(10).samples == ["sample"]
    scheduler.close()
