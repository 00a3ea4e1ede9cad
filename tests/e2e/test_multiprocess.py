"""Real parts, separate processes: gunicorn (2 workers) + two `rundramatiq` workers on PostgreSQL, Redis
(the broker, or RabbitMQ: each test runs on both) and an S3-compatible server, all on loopback. One worker
is killed (SIGKILL, its whole process group) in the middle of a training run while generation requests are
in flight; everything must still finish: the run resumes from its checkpoint on the other worker, every
request ends completed or failed, no artifact is torn.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, S3, Processes, free_port, wait_port
from tests.shared_fixtures import tiny_params

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOTAL_BUDGET_S = 480  # the whole test, start to finish (each stage also has its own limit)
CORPUS = 240
GENERATIONS = 10
# The model behind `production` that the generation requests use (a few seconds).
BASE_PARAMS = tiny_params(max_steps=120, checkpoint_every=1000)
# The run that loses its worker: bounded by wall-clock time (summed over attempts), checkpoints often.
MAIN_PARAMS = {**BASE_PARAMS, "max_steps": 0, "budget_seconds": 20, "checkpoint_every": 50, "seed": 1}


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def poll(
    what: str, check: Any, deadline: Deadline, limit: float, every: float = 1.0, diag: Any = None
) -> Any:
    """Call check() until it returns something truthy, for at most `limit` seconds (and the test's total)."""
    end = time.monotonic() + min(limit, deadline.left())
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{diag()}" if diag else ""))
        time.sleep(every)


# --- the stack -----------------------------------------------------------------------------------------


class Stack:
    def __init__(
        self, tmp: Path, pg_url: str, redis_url: str, s3: S3, processes: Processes, broker_env: dict[str, str]
    ) -> None:
        import psycopg

        self.tmp, self.pg_url, self.s3, self.processes = tmp, pg_url, s3, processes
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.work_dir = tmp / "work"  # shared by both workers, as on one machine: checkpoints resume
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "DJANGO_", "ATELIER_", "GENERATION_"))
            and k
            not in (
                "REDIS_URL",
                "RABBITMQ_URL",
                "DRAMATIQ_BROKER_URL",
                "DATABASE_URL",
                "MEDIA_ROOT",
                "STATIC_ROOT",
            )
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=pg_url,
            REDIS_URL=redis_url,
            AWS_STORAGE_BUCKET_NAME=s3.bucket,
            AWS_S3_ENDPOINT_URL=s3.endpoint,
            AWS_S3_REGION_NAME="us-east-1",
            AWS_ACCESS_KEY_ID="e2e",
            AWS_SECRET_ACCESS_KEY="e2e",
            ATELIER_VAR_DIR=str(tmp / "var"),
            ATELIER_WORK_DIR=str(self.work_dir),
            ATELIER_DEMO_MODEL="0",
            # A killed worker's claims count as stale after 30 s instead of a minute.
            JOB_CLAIM_TTL_SECONDS="30",
            API_THROTTLE_USER="10000/minute",
            API_THROTTLE_GENERATIONS="10000/minute",
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
            NO_PROXY="*",
        )
        env.update(broker_env)  # RABBITMQ_URL for the RabbitMQ run; the Redis run adds nothing
        self.env = env
        self.db = psycopg.connect(pg_url, autocommit=True)

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"manage.py {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done.stdout

    def script(self, code: str, timeout: float = 120, **values: Any) -> Any:
        """Run code in `manage.py shell -c` with E2E (a dict) in scope; it prints one JSON line last."""
        prelude = "import json, os\nE2E = json.loads(os.environ['E2E_ARGS'])\n"
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", prelude + code],
            cwd=REPO,
            env={**self.env, "E2E_ARGS": json.dumps(values), "LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"script failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start_web(self) -> None:
        proc = self.processes.start(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "2",
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
            ],
            self.env,
        )
        wait_port(self.web_port, 60, proc.popen)

    def start_worker(self, name: str) -> None:
        self.processes.start(
            name,
            [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"],
            self.env,
        )

    def sql(self, query: str, *params: Any) -> list[tuple]:
        return self.db.execute(query, params).fetchall()

    def diag(self) -> str:
        runs = self.sql("SELECT id, status, attempts, step, progress, worker_id FROM training_trainingrun")
        outputs = self.sql("SELECT status, count(*) FROM generation_designoutput GROUP BY status")
        return f"runs: {runs}\noutputs: {outputs}\n{self.processes.tails()}"


def _http() -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False  # loopback only: never a proxy from the environment
    return session


SETUP_USERS = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from core.roles import API_CONSUMERS, CURATORS, ML_STAFF
User = get_user_model()
tokens = {}
for name, group in (("curator", CURATORS), ("mlstaff", ML_STAFF), ("consumer", API_CONSUMERS)):
    user = User.objects.create_user(name, f"{name}@example.com", "pw-e2e-123", is_staff=name != "consumer")
    user.groups.add(Group.objects.get(name=group))
    tokens[name] = Token.objects.create(user=user).key
print(json.dumps(tokens))
"""

START_RUN = """
from django.contrib.auth import get_user_model
from training.models import Dataset
from training.services.runs import training_run_create
dataset = Dataset.objects.get(name=E2E["dataset"], status="ready")
user = get_user_model().objects.get(username="mlstaff")
run = training_run_create(
    dataset=dataset, params=E2E["params"], model_name=E2E["model_name"],
    promote_to=E2E["promote_to"], requested_by=user,
    promote_override_reason="a test model trained for seconds, to serve requests",
)
print(json.dumps({"id": str(run.pk)}))
"""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the test ------------------------------------------------------------------------------------------


@pytest.fixture
def stack(
    tmp_path: Path, pg_url: str, redis_url: str, processes: Processes, s3: S3, broker_env: dict[str, str]
) -> Iterator[Stack]:
    built = Stack(tmp_path, pg_url, redis_url, s3, processes, broker_env)
    try:
        yield built
    finally:
        built.db.close()


def test_killing_a_worker_mid_training_loses_nothing(tmp_path: Path, stack: Stack, s3: S3) -> None:
    deadline = Deadline(TOTAL_BUDGET_S)
    http = _http()

    # Migrate, then the web app and two workers, each in its own process group.
    stack.manage("migrate", "--noinput", timeout=180)
    stack.start_web()
    stack.start_worker("worker-a")
    stack.start_worker("worker-b")
    tokens = stack.script(SETUP_USERS)

    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Token {tokens[user]}"}

    examples = _import_and_snapshot_a_corpus(stack, http, auth, deadline, tmp_path)
    _train_the_base_model(stack, deadline)
    run_id, generation_ids, killed_at_progress = _kill_a_worker_mid_training(
        stack, http, auth, deadline, examples
    )
    _the_run_resumes_and_finishes(stack, deadline, run_id, killed_at_progress)
    _every_generation_ends(stack, http, auth, deadline, generation_ids)
    _artifacts_whole_and_the_survivor_alive(stack, s3)


def _run_row(stack: Stack, run_id: str) -> tuple | None:
    rows = stack.sql(
        "SELECT status, attempts, worker_id, progress, heartbeat_at > now() - interval '10 seconds' "
        "FROM training_trainingrun WHERE id = %s",
        run_id,
    )
    return rows[0] if rows else None


def _finished(stack: Stack, run_id: str) -> Any:
    row = _run_row(stack, run_id)
    return row if row and row[0] in ("completed", "failed", "cancelled") else None


def _import_and_snapshot_a_corpus(
    stack: Stack, http: Any, auth: Callable[[str], dict[str, str]], deadline: Deadline, tmp_path: Path
) -> list[Any]:
    from slm.synthetic import generate_corpus

    # A synthetic corpus through the import API: stored in S3, imported by a worker.
    corpus = tmp_path / "corpus.jsonl"
    examples = list(generate_corpus(CORPUS, seed=11, unique=True))
    corpus.write_text(
        "".join(json.dumps({"prompt": e.prompt, "svg": e.svg, "source": "e2e"}) + "\n" for e in examples)
    )
    with corpus.open("rb") as fh:
        made = http.post(
            f"{stack.base}/api/v1/imports/",
            headers=auth("curator"),
            files={"file": ("corpus.jsonl", fh, "application/x-ndjson")},
            data={"dry_run": "false", "mode": "skip_invalid", "default_status": "approved"},
            timeout=60,
        )
    assert made.status_code == 202, made.text
    batch_url = f"{stack.base}/api/v1/imports/{made.json()['id']}/"

    def imported() -> Any:
        body = http.get(batch_url, headers=auth("curator"), timeout=30).json()
        return body if body["status"] in ("completed", "failed") else None

    batch = poll("the import", imported, deadline, 120, diag=stack.diag)
    assert batch["status"] == "completed" and batch["rows_created"] > CORPUS * 0.9, batch

    # A snapshot through the API; a worker exports it to S3.
    snap = http.post(
        f"{stack.base}/api/v1/datasets/",
        headers=auth("curator"),
        json={"name": "e2e-corpus", "seed": 3, "validation": 0.05, "test": 0.05},
        timeout=60,
    )
    assert snap.status_code == 201, snap.text
    poll(
        "the snapshot export",
        lambda: stack.sql(
            "SELECT 1 FROM training_dataset WHERE name = %s AND status = 'ready'", "e2e-corpus"
        ),
        deadline,
        120,
        diag=stack.diag,
    )
    return examples


def _train_the_base_model(stack: Stack, deadline: Deadline) -> None:
    # A first tiny model behind `production`, trained by the workers.
    base_run = stack.script(
        START_RUN, dataset="e2e-corpus", params=BASE_PARAMS, model_name="e2e-base", promote_to="production"
    )["id"]

    base = poll("the base model", lambda: _finished(stack, base_run), deadline, 180, diag=stack.diag)
    assert base[0] == "completed", stack.diag()


def _kill_a_worker_mid_training(
    stack: Stack, http: Any, auth: Callable[[str], dict[str, str]], deadline: Deadline, examples: list[Any]
) -> tuple[str, list[str], float]:
    # The run that will lose its worker. Once it is training (so that process has imported transformers,
    # see test_first_transformers_imports_race_between_worker_threads), a batch of generation requests.
    run_id = stack.script(
        START_RUN, dataset="e2e-corpus", params=MAIN_PARAMS, model_name="e2e-main", promote_to=""
    )["id"]
    checkpoints = stack.work_dir / "runs" / run_id / "checkpoints"

    def training(*, with_checkpoint: bool) -> Any:
        row = _run_row(stack, run_id)
        if row and row[0] in ("completed", "failed", "cancelled"):
            raise AssertionError(f"the run ended before its worker was killed: {row}\n{stack.diag()}")
        if not row or row[0] != "running" or not row[4] or not 0 < row[3] < 0.9:
            return None
        if with_checkpoint and not any((p / "manifest.json").exists() for p in checkpoints.glob("step-*")):
            return None
        return row

    poll(
        "the run to start training",
        lambda: training(with_checkpoint=False),
        deadline,
        120,
        every=0.25,
        diag=stack.diag,
    )
    generation_ids = []
    for i, example in enumerate(examples[:GENERATIONS]):
        body: dict[str, Any] = {"text": example.prompt, "model": "production"}
        if i % 3 == 2:
            body.update(count=2, temperature=0.8, seed=i)
        answer = http.post(
            f"{stack.base}/api/v1/generations/", headers=auth("consumer"), json=body, timeout=60
        )
        assert answer.status_code in (200, 202), answer.text
        generation_ids.append(answer.json()["id"])

    # Mid-way on a live worker with a complete checkpoint on disk: kill that worker's whole process group
    # (the dramatiq parent and its forked worker process) with SIGKILL.
    status, attempts, worker_id, progress, _ = poll(
        "the run to checkpoint",
        lambda: training(with_checkpoint=True),
        deadline,
        60,
        every=0.25,
        diag=stack.diag,
    )
    victim = stack.processes.group_of(int(worker_id.split(":")[1]))
    assert victim in ("worker-a", "worker-b"), f"no started worker owns {worker_id}\n{stack.diag()}"
    stack.processes.kill_group(victim)
    killed_at_progress = progress
    assert _finished(stack, run_id) is None, "the run must still be going when its worker dies"
    return run_id, generation_ids, killed_at_progress


def _the_run_resumes_and_finishes(
    stack: Stack, deadline: Deadline, run_id: str, killed_at_progress: float
) -> None:
    # The other worker's reaper re-sends the run once its heartbeat is stale; it resumes and finishes.
    row = poll(
        "the run to finish after the kill", lambda: _finished(stack, run_id), deadline, 200, diag=stack.diag
    )
    assert row[0] == "completed", stack.diag()
    assert row[1] >= 2, f"expected a second attempt, got {row[1]}"
    messages = [
        m for (m,) in stack.sql("SELECT message FROM training_trainingrunevent WHERE run_id = %s", run_id)
    ]
    assert any("resuming from the last checkpoint" in m for m in messages), messages
    assert any("resumed from step" in m for m in messages), messages
    assert 0 < killed_at_progress < 1


def _every_generation_ends(
    stack: Stack,
    http: Any,
    auth: Callable[[str], dict[str, str]],
    deadline: Deadline,
    generation_ids: list[str],
) -> None:
    # Every generation request reached a terminal state, and its API answer says which (with a reason).
    def all_terminal() -> bool:
        rows = stack.sql(
            "SELECT count(*) FROM generation_designoutput WHERE status NOT IN ('completed', 'failed')"
        )
        return rows[0][0] == 0

    poll("every generation to finish", all_terminal, deadline, 150, diag=stack.diag)
    for gid in generation_ids:
        answer = http.get(f"{stack.base}/api/v1/generations/{gid}/", headers=auth("consumer"), timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] in ("completed", "failed"), body
        if body["status"] == "failed":
            assert body["error"], body
        else:
            assert body["designs"], body
    assert len(stack.sql("SELECT id FROM generation_designoutput")) == GENERATIONS


def _artifacts_whole_and_the_survivor_alive(stack: Stack, s3: S3) -> None:
    # One version per run (nothing registered twice), each with a complete, untorn artifact in S3.
    models = stack.sql("SELECT model_name, storage_path FROM training_slmmodel ORDER BY model_name")
    assert [m for m, _ in models] == ["e2e-base", "e2e-main"], models
    for _name, prefix in models:
        assert prefix, models
        manifest = json.loads(
            s3.client.get_object(Bucket=s3.bucket, Key=f"{prefix}/MANIFEST.json")["Body"].read()
        )
        assert manifest["files"], manifest
        for rel, meta in manifest["files"].items():
            data = s3.client.get_object(Bucket=s3.bucket, Key=f"{prefix}/{rel}")["Body"].read()
            assert len(data) == meta["size"] and _sha256(data) == meta["sha256"], f"{prefix}/{rel} is torn"

    # The survivor and the web app are still alive.
    alive = [n for n, p in stack.processes.procs.items() if p.popen.poll() is None]
    assert set(alive) >= {"gunicorn", "moto"} and len([n for n in alive if n.startswith("worker-")]) == 1


RACE = """
import json
import threading
import time
import django

django.setup()
from core.embedded import import_tasks_modules

import_tasks_modules()  # what a rundramatiq worker process has imported before its first message
from slm.model import load_model
from slm.tokenizer import train_tokenizer

start = threading.Barrier(2)  # both threads make their first transformers import at the same moment
spans, errors = {}, []


def timed(name, work):
    start.wait()
    began = time.monotonic()
    try:
        work()
    except ImportError as exc:  # the race lost: what ensure_transformers prevents
        errors.append(f"{name}: {exc!r}")
    except OSError:  # the model folder is missing on purpose; loading got past the imports
        pass
    spans[name] = (began, time.monotonic())


def tokenizer():  # a training thread's first step
    train_tokenizer(["<svg><circle r='1'/></svg> a red circle"] * 20, vocab_size=300)


def model():  # a generation thread loading a model version
    load_model("/nonexistent/model")


threads = [threading.Thread(target=timed, args=(n, f)) for n, f in (("tokenizer", tokenizer), ("model", model))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "spans": spans}))
"""


def test_first_transformers_imports_race_between_worker_threads() -> None:
    """Two worker threads, two first imports from transformers, in a fresh process (as after a deploy).

    The threads start together (a barrier) and the test checks that their first uses overlapped in time,
    so a run where one finished before the other began cannot pass for a race that was survived."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "OMP_NUM_THREADS": "1"}
    env.pop("REDIS_URL", None)
    for attempt in range(3):  # three fresh processes
        done = subprocess.run(
            [sys.executable, "-c", RACE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"attempt {attempt + 1}: {done.stdout[-1000:]} {done.stderr[-2000:]}"
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["errors"] == [], f"attempt {attempt + 1}: {result['errors']}"
        (a0, a1), (b0, b1) = result["spans"]["tokenizer"], result["spans"]["model"]
        assert max(a0, b0) < min(a1, b1), f"attempt {attempt + 1}: the two first uses did not overlap"
