"""Training runs with more than one process: the service launches torchrun and follows rank 0 into the
row (progress, metrics, events), cancels through the process group, fails with the reason torchrun gives;
and a killed worker takes its training processes with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import synthetic_snapshot
from tests.shared_fixtures import tiny_params
from training.models import TrainingMetric
from training.services.runs import training_run_cancel, training_run_create, training_run_run

pytestmark = pytest.mark.django_db
TWO = tiny_params(processes=2, max_steps=12, checkpoint_every=5, select_by="val_loss")


@pytest.fixture
def dataset(db):
    return synthetic_snapshot()


@pytest.fixture(autouse=True)
def _no_quality_evaluation(monkeypatch):
    """The evaluation after training is the same whatever trained the model (tested with the runs)."""
    from training.services import run_outcome

    monkeypatch.setattr(run_outcome, "evaluation_metrics", lambda **kw: ({"eval_prompts": 0}, []))


def test_a_two_process_run_trains_reports_and_registers(dataset) -> None:
    run = training_run_create(dataset=dataset, params=TWO, enqueue=False)
    run = training_run_run(run_id=run.pk)
    messages = list(run.events.values_list("message", flat=True))
    assert run.status == "completed", (run.error_message, messages)
    assert run.step == 12 and run.progress == 1.0 and run.result_model is not None
    assert "2 training processes started (torchrun, DDP)." in messages
    steps = list(TrainingMetric.objects.filter(run=run, name="loss").values_list("step", flat=True))
    assert steps and max(steps) == 12
    assert run.result_model.metrics["steps"] == 12


def test_cancel_stops_the_processes_and_keeps_a_checkpoint(dataset) -> None:
    run = training_run_create(dataset=dataset, params={**TWO, "max_steps": 100_000}, enqueue=False)

    def cancel_once(progress) -> None:
        if progress.step >= 3 and not cancel_once.done:
            cancel_once.done = True
            training_run_cancel(run=run)

    cancel_once.done = False
    run = training_run_run(run_id=run.pk, on_progress=cancel_once)
    assert run.status == "cancelled", run.error_message
    last = run.events.order_by("-created_at", "-id").first().message
    assert last.startswith("Cancelled at step ") and "checkpoint kept at step-" in last
    assert run.step < 100_000


def test_a_rank_dying_past_its_restarts_fails_the_run_with_the_reason(dataset, monkeypatch) -> None:
    monkeypatch.setenv("ATELIER_TEST_RANK_FAULT", "1:4:0")
    run = training_run_create(dataset=dataset, params={**TWO, "max_restarts": 0}, enqueue=False)
    run = training_run_run(run_id=run.pk)
    assert run.status == "failed"
    assert run.error_message.startswith("Rank 1 failed (exit code -9, SIGKILL")
    assert "(--max-restarts 0)" in run.error_message


LAUNCHER = """
import sys
from pathlib import Path
from tests.shared_fixtures import tiny_config
from slm.synthetic import generate_corpus
from slm.train.launch import launch
launch(tiny_config(max_steps=100_000, checkpoint_every=100_000), list(generate_corpus(200, seed=1)), [],
       Path(sys.argv[1]), processes=2)
"""


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_a_killed_worker_takes_torchrun_and_its_ranks_with_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    worker = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(out)], cwd=Path(__file__).resolve().parents[1]
    )
    progress = out / "launch-node0" / "progress.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (progress.exists() and "start" in progress.read_text()):
        assert worker.poll() is None, "the launcher ended before its ranks started"
        time.sleep(0.2)
    spec = str(out / "launch-node0" / "spec.json")
    assert len(_processes_mentioning(spec)) >= 3  # torchrun and two ranks
    rank0 = json.loads(progress.read_text().splitlines()[0])["pid"]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _processes_mentioning(spec):
        time.sleep(0.2)
    assert _processes_mentioning(spec) == []
    assert not Path(f"/proc/{rank0}").exists()


def test_two_nodes_run_one_training_run_with_the_same_command(dataset, settings, monkeypatch) -> None:
    """`manage.py train_run RUN_ID` on every node (here: node 1 a subprocess, node 0 this process),
    NNODES/NODE_RANK/MASTER_ADDR/MASTER_PORT as a scheduler sets them, the run folder shared."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    contract = {"NNODES": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    run = training_run_create(dataset=dataset, params={**TWO, "processes": 1}, enqueue=False)
    root = Path(__file__).resolve().parents[1]
    node1 = subprocess.Popen(
        [sys.executable, "manage.py", "train_run", str(run.pk), "--wait", "120"],
        cwd=root,
        env={**os.environ, **contract, "NODE_RANK": "1", "ATELIER_WORK_DIR": str(settings.WORK_DIR)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for key, value in {**contract, "NODE_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    run = training_run_run(run_id=run.pk)
    out, _ = node1.communicate(timeout=120)
    assert run.status == "completed", run.error_message
    assert run.step == 12 and run.result_model is not None
    node1_log = next(Path(settings.WORK_DIR).glob("runs/*/launch-node1.log"), None)
    assert node1.returncode == 0, out.decode()[-2000:] + (node1_log.read_text()[-6000:] if node1_log else "")
    assert b"Node 1 of 2 done." in out
    messages = list(run.events.values_list("message", flat=True))
    assert "2 training processes started (torchrun, DDP)." in messages  # one on each node
