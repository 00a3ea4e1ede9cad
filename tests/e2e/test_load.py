"""A load run on real parts: 200 generation requests from 20 concurrent clients through gunicorn and two
`rundramatiq` workers (PostgreSQL, Redis, S3 on loopback). None may be lost: each ends completed, or failed
with a reason. Bounded in count and time; every address is 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.e2e.test_multiprocess import SETUP_USERS, Deadline, Stack, _http, poll, stack  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = 20
PER_CLIENT = 10
# The request phase's own budget. Setup (migrate, users, the model) is bounded by its own timeouts: on CI it
# shares two cores with the other xdist worker and once took most of a budget that covered both.
BUDGET_S = 300
# Default model size and a fixed number of steps (a time budget would make quality depend on machine load):
# enough for mostly valid designs, so the completed path is loaded as well as the failed one.
MODEL_PARAMS = {"budget_seconds": 0, "max_steps": 150, "num_threads": 1, "seed": 0}

# A tiny model behind `production`, trained in this script's process (the workers only generate here).
MAKE_MODEL = """
from django.contrib.auth import get_user_model
from slm.synthetic import generate_corpus
from training.models import TrainingExample
from training.services.runs import training_run_create
from training.services.snapshots import dataset_export, dataset_snapshot_create
from training.tasks import train_model
from core.svg import clean_svg
for ex in generate_corpus(3000, seed=21, unique=True):
    clean = clean_svg(ex.svg)
    TrainingExample.objects.get_or_create(content_hash=clean.content_hash,
        defaults={"prompt": ex.prompt, "svg_content": clean.svg, "status": "approved"})
snapshot = dataset_snapshot_create(name="load", examples=TrainingExample.objects.all(), seed=0, enqueue=False)
snapshot = dataset_export(dataset_id=snapshot.pk)
user = get_user_model().objects.get(username="mlstaff")
run = training_run_create(
    dataset=snapshot, params=E2E["params"], promote_to="production", requested_by=user,
    promote_override_reason="a test model trained for seconds, to serve requests",
)
train_model(str(run.pk))  # the actor, in this process
run.refresh_from_db()
print(json.dumps({"status": run.status, "error": run.error_message}))
"""

PROMPTS = [
    "a large red circle at the top left",
    "two small blue squares at the center",
    "a medium green outlined triangle at the bottom right",
    "three small yellow stars at the top and a large purple diamond at the center",
    "an outlined orange ellipse at the middle left",
]


def test_two_hundred_requests_from_twenty_clients_lose_none(stack: Stack) -> None:  # noqa: F811
    stack.manage("migrate", "--noinput", timeout=180)
    tokens = stack.script(SETUP_USERS)
    made = stack.script(MAKE_MODEL, timeout=240, params=MODEL_PARAMS)
    assert made["status"] == "completed", made
    stack.start_web()
    stack.start_worker("worker-a")
    stack.start_worker("worker-b")
    deadline = Deadline(BUDGET_S)
    headers = {"Authorization": f"Token {tokens['consumer']}"}

    ids: list[str] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        http = _http()
        for i in range(PER_CLIENT):
            prompt = PROMPTS[(n + i) % len(PROMPTS)]
            try:
                response = http.post(
                    f"{stack.base}/api/v1/generations/",
                    headers=headers,
                    json={"text": prompt, "count": 1, "seed": n * 100 + i},
                    timeout=60,
                )
            except Exception as exc:  # a refused or dropped connection is a lost request
                with lock:
                    problems.append(f"client {n} request {i}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                if response.status_code == 202:
                    ids.append(response.json()["id"])
                else:
                    problems.append(
                        f"client {n} request {i}: HTTP {response.status_code} {response.text[:200]}"
                    )

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(deadline.left(), 1))
    assert not problems, problems[:5]
    assert len(ids) == CLIENTS * PER_CLIENT

    def all_terminal() -> Any:
        rows = stack.sql(
            "SELECT status, count(*) FROM generation_designoutput WHERE id = ANY(%s::uuid[]) GROUP BY status",
            ids,
        )
        counts = dict(rows)
        return counts if sum(counts.get(s, 0) for s in ("completed", "failed")) == len(ids) else None

    counts = poll("every request to finish", all_terminal, deadline, BUDGET_S, every=2.0, diag=stack.diag)
    elapsed = time.monotonic() - started
    # Nothing lost: each one answers over HTTP with a terminal status, and a failure carries its reason.
    http = _http()
    for output_id in ids[:: max(len(ids) // 40, 1)]:
        body = http.get(f"{stack.base}/api/v1/generations/{output_id}/", headers=headers, timeout=30).json()
        assert body["status"] in ("completed", "failed"), body
        if body["status"] == "failed":
            assert body["error"], body
    no_reason = stack.sql(
        "SELECT count(*) FROM generation_designoutput WHERE id = ANY(%s::uuid[]) AND status = 'failed' "
        "AND error_message = ''",
        ids,
    )[0][0]
    assert no_reason == 0
    reasons = stack.sql(
        "SELECT error_message, count(*) FROM generation_designoutput WHERE id = ANY(%s::uuid[]) "
        "AND status = 'failed' GROUP BY error_message",
        ids,
    )
    print(f"failure reasons: {reasons}")
    assert counts.get("completed", 0) >= len(ids) // 4, (
        f"too few requests produced a design: {counts} {reasons}"
    )
    print(f"load run: {len(ids)} requests from {CLIENTS} clients, {counts}, {elapsed:.0f} s")
