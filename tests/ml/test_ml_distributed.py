"""Training as N processes under torchrun (slm.train.launch): real torch.distributed ranks (gloo, CPU),
a tiny model, a few steps each."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from slm.train.checkpoints import latest_checkpoint
from slm.train.config import Progress
from slm.train.launch import DistributedFailure, Nodes, launch
from slm.train.launch_report import failure_reason
from slm.train.loop import train
from tests.shared_fixtures import tiny_config

# Two ranks compute the same global batch's gradient as one process (each its share, weighted by its
# share of the target tokens); what differs is the order of float sums: ~1e-7 here.
LOSS_TOLERANCE = 1e-4


def _config(**overrides):
    return tiny_config(cpu_bf16=False, validations=2, **overrides)


def _losses(progress: list[Progress]) -> dict[int, float]:
    return {p.step: p.loss for p in progress}


def test_two_processes_train_as_one_with_the_same_global_batch(corpus, tmp_path: Path) -> None:
    train_set, val_set = corpus[:300], corpus[300:340]
    one: list[Progress] = []
    two: list[Progress] = []
    single = train(_config(), train_set, val_set, tmp_path / "one", on_progress=one.append)
    events: list[str] = []
    double = launch(
        _config(),
        train_set,
        val_set,
        tmp_path / "two",
        processes=2,
        on_progress=two.append,
        on_event=lambda message, level: events.append(message),
    )
    assert double.status == single.status == "completed" and double.steps == single.steps == 20
    a, b = _losses(one), _losses(two)
    assert sorted(b) == sorted(a)
    assert max(abs(a[s] - b[s]) for s in a) < LOSS_TOLERANCE
    assert double.val_loss == pytest.approx(single.val_loss, abs=LOSS_TOLERANCE)
    assert (double.final_dir / "model.safetensors").is_file()
    assert events == ["2 training processes started (torchrun, DDP)."]


def test_a_killed_rank_restarts_and_the_run_resumes_its_step_count(corpus, tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    result = launch(
        _config(),
        corpus[:300],
        corpus[300:340],
        tmp_path,
        processes=2,
        max_restarts=1,
        on_event=lambda message, level: events.append((message, level)),
        env={"ATELIER_TEST_RANK_FAULT": "1:13:0"},  # rank 1 is SIGKILLed in its 13th step, first attempt
    )
    assert result.status == "completed" and result.steps == 20
    assert result.resumed_from_step == 10  # the newest complete checkpoint before the kill
    assert any("restart 1 of 1" in m and level == "warning" for m, level in events)


def test_a_rank_that_keeps_dying_fails_the_run_with_its_reason(corpus, tmp_path: Path) -> None:
    with pytest.raises(DistributedFailure) as exc:
        launch(
            _config(),
            corpus[:300],
            [],
            tmp_path,
            processes=2,
            max_restarts=0,
            env={"ATELIER_TEST_RANK_FAULT": "1:3:0"},
        )
    message = str(exc.value)
    assert message.startswith("Rank 1 failed (exit code -9, SIGKILL")
    assert "after 0 of 0 restart(s) (--max-restarts 0)" in message


def test_cancel_signals_the_ranks_and_they_stop_with_a_checkpoint(corpus, tmp_path: Path) -> None:
    seen: list[Progress] = []
    result = launch(
        _config(max_steps=100_000, checkpoint_every=1000),
        corpus[:300],
        [],
        tmp_path,
        processes=2,
        on_progress=seen.append,
        should_stop=lambda: bool(seen),
    )
    assert result.status == "cancelled"
    assert result.steps < 100_000 and result.final_dir is None
    assert latest_checkpoint(tmp_path).name == f"step-{result.steps:08d}"


def test_a_cancel_while_torchrun_starts_is_a_cancel_not_a_failure(corpus, tmp_path: Path) -> None:
    result = launch(
        _config(max_steps=100_000), corpus[:300], [], tmp_path, processes=2, should_stop=lambda: True
    )
    assert result.status == "cancelled" and result.final_dir is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_on_loopback(corpus, tmp_path: Path) -> None:
    """NNODES/NODE_RANK/MASTER_ADDR/MASTER_PORT, as a scheduler sets them: one launcher per node."""
    port = _free_port()
    results: dict[int, object] = {}

    def node(rank: int, progress: list[Progress] | None) -> None:
        env = {"NNODES": "2", "NODE_RANK": str(rank), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        results[rank] = launch(
            _config(),
            corpus[:300],
            corpus[300:340],
            tmp_path / "shared",
            processes=1,
            nodes=Nodes.from_env(env),
            on_progress=progress.append if progress is not None else None,
        )

    two: list[Progress] = []
    follower = threading.Thread(target=node, args=(1, None))
    follower.start()
    node(0, two)
    follower.join(timeout=120)
    one: list[Progress] = []
    train(_config(), corpus[:300], corpus[300:340], tmp_path / "one", on_progress=one.append)
    assert results[0].steps == 20 and results[0].final_dir is not None
    assert results[1].status == "completed"
    a, b = _losses(one), _losses(two)
    assert max(abs(a[s] - b[s]) for s in a) < LOSS_TOLERANCE


def test_failure_reason_reads_torchruns_report() -> None:
    log = """torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
Root Cause (first observed failure):
[0]:
  rank      : 3 (local_rank: 1)
  exitcode  : 1 (pid: 42)
  error_file: /tmp/x/error.json
  traceback : Traceback (most recent call last):
ValueError: every training example is longer than the model context
"""
    reason = failure_reason(log, 2)
    assert reason.startswith("Rank 3 failed (exit code 1")
    assert "ValueError: every training example is longer than the model context" in reason


def test_failure_reason_names_the_killed_rank_not_the_survivors_torchrun_stopped() -> None:
    log = """torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
Failures:
[1]:
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 3791)  (SIGTERM)
  traceback : Traceback (most recent call last):
RuntimeError: [gloo] Read error: Connection reset by peer
Root Cause (first observed failure):
[0]:
  rank      : 0 (local_rank: 0)
  exitcode  : 1 (pid: 3791)
  traceback : Traceback (most recent call last):
[2]:
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 3792)
  traceback : Signal 9 (SIGKILL) received by PID 3792
"""
    assert failure_reason(log, 1).startswith("Rank 1 failed (exit code -9, SIGKILL) after 1 of 1 restart(s)")
