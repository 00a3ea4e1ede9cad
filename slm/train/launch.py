"""Train with N processes: torch's elastic launcher (torchrun) runs slm.train.rank N times, as a
subprocess in a process group of its own, and this side follows it.

- One node: rendezvous on loopback (`--rdzv-backend c10d --rdzv-endpoint 127.0.0.1:0`, a free port).
- Several nodes: the contract schedulers already speak (torchrun, SkyPilot, Kubeflow's PyTorchJob):
  `MASTER_ADDR`, `MASTER_PORT`, `NNODES`, `NODE_RANK` in the environment of each node's launcher
  (static rendezvous). Every node runs this with the same run; only global rank 0 reports.
- A dead rank: torchrun restarts the whole group up to `--max-restarts` times; each restart resumes from
  the newest complete checkpoint. After that torchrun gives up and `DistributedFailure` says which rank
  died how, and how many restarts were used.
- Cancel: `should_stop()` is polled every second; when it says so, SIGTERM goes to torchrun's process
  group, torchrun passes it to the ranks, and they stop after their current step with a checkpoint.
- This process dying (a killed worker) takes torchrun with it (PR_SET_PDEATHSIG), and torchrun's ranks
  die with torchrun: nothing trains on without a parent to report to.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from slm.train.config import ExampleLike, Progress, TrainConfig, TrainResult, as_example
from slm.train.launch_report import Follower, failure_reason
from slm.train.stream import ShardSet

ROOT = Path(__file__).resolve().parents[3]  # the project: the ranks import the same code as this process
POLL_S = 0.2
STOP_POLL_S = 1.0


class DistributedFailure(RuntimeError):
    """The ranks did not finish: the message says which rank failed how, after how many restarts."""


@dataclass(frozen=True)
class Nodes:
    """Where this launcher sits among the nodes of a run (one node: the defaults)."""

    count: int = 1
    rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Nodes:
        env = dict(os.environ if env is None else env)
        return cls(
            count=int(env.get("NNODES", "1") or 1),
            rank=int(env.get("NODE_RANK", "0") or 0),
            master_addr=env.get("MASTER_ADDR", "127.0.0.1") or "127.0.0.1",
            master_port=int(env.get("MASTER_PORT", "29500") or 29500),
        )


def torchrun_command(spec: Path, processes: int, max_restarts: int, nodes: Nodes, run_id: str) -> list[str]:
    """torchrun's command line (`python -m torch.distributed.run`) for one node of the run."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={processes}",
        f"--max-restarts={max_restarts}",
        "--monitor-interval=0.5",
    ]
    if nodes.count > 1:
        cmd += [
            f"--nnodes={nodes.count}",
            f"--node-rank={nodes.rank}",
            f"--master-addr={nodes.master_addr}",
            f"--master-port={nodes.master_port}",
        ]
    else:
        cmd += ["--nnodes=1", "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0", f"--rdzv-id={run_id}"]
    return [*cmd, "-m", "slm.train.rank", str(spec)]


def launch(
    config: TrainConfig,
    train_examples: Iterable[ExampleLike],
    val_examples: Iterable[ExampleLike],
    out_dir: Path,
    processes: int,
    max_restarts: int = 2,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_event: Callable[[str, str], None] | None = None,
    init_from: Path | None = None,
    nodes: Nodes | None = None,
    env: dict[str, str] | None = None,
) -> TrainResult:
    """Train as `processes` ranks on this node (times `nodes.count` nodes); the result as train() gives
    it, read from rank 0. Raises DistributedFailure when the ranks fail past their restarts. On nodes
    other than rank 0's the result only carries the status and step count."""
    nodes = nodes or Nodes.from_env()
    out_dir = Path(out_dir)
    here = out_dir / f"launch-node{nodes.rank}"
    here.mkdir(parents=True, exist_ok=True)
    for name in ("progress.jsonl", "result.json"):
        (here / name).unlink(missing_ok=True)
    cores = os.cpu_count() or 1
    threads = config.num_threads or max(1, cores // max(1, processes))
    spec = {
        "config": {**config.to_dict(), "num_threads": threads},
        "out_dir": str(out_dir),
        "init_from": str(init_from) if init_from else None,
        "processes": processes,
        "max_restarts": max_restarts,
    }
    if isinstance(train_examples, ShardSet):  # each rank streams its own shards (slm.train.stream)
        spec["shards"] = train_examples.as_dict()
    else:
        _write_examples(here / "train.jsonl", train_examples)
        _write_examples(here / "val.jsonl", val_examples)
    (here / "spec.json").write_text(json.dumps(spec, default=str), encoding="utf-8")
    child_env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "OMP_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    cmd = torchrun_command(here / "spec.json", processes, max_restarts, nodes, uuid.uuid4().hex)
    log_path = here / "torchrun.log"
    with log_path.open("wb") as log:
        proc = _spawn_torchrun(cmd, child_env, log)
        follower = Follower(here / "progress.jsonl", on_progress, on_event, max_restarts)
        stopping = False
        next_stop_check = 0.0
        try:
            while proc.poll() is None:
                follower.read()
                now = time.monotonic()
                if not stopping and should_stop is not None and now >= next_stop_check:
                    next_stop_check = now + STOP_POLL_S
                    if should_stop():
                        stopping = True
                        _signal_group(proc, signal.SIGTERM)
                time.sleep(POLL_S)
        except BaseException:
            _signal_group(proc, signal.SIGTERM)
            _wait_or_kill(proc)
            raise
    follower.read()
    result_path = here / "result.json"
    if result_path.is_file():
        return _result(json.loads(result_path.read_text(encoding="utf-8")))
    if nodes.rank != 0 and proc.returncode == 0:
        return TrainResult("completed", 0, 0, float("nan"), None, None, 0, 0.0, 0.0, 0, None, None)
    if stopping:  # cancelled before rank 0 could answer (e.g. while torchrun was still starting)
        from slm.train.checkpoints import latest_checkpoint

        last = latest_checkpoint(out_dir)
        step = follower.last_step
        return TrainResult("cancelled", step, 0, float("nan"), None, None, 0, 0.0, 0.0, 0, None, last)
    raise DistributedFailure(failure_reason(log_path.read_text(errors="replace"), max_restarts, follower))


def follow(out_dir: Path, nodes: Nodes, wait_s: float = 3600.0, env: dict[str, str] | None = None) -> int:
    """Join a multi-node run as node `nodes.rank` (> 0): wait for node 0's launch files in the shared
    run folder (its spec and examples), then run torchrun with this node's rank on them. Node 0 reports
    and writes everything; this returns torchrun's exit status."""
    if nodes.rank == 0:
        raise ValueError("node 0 launches the run; follow() is for the other nodes")
    here = Path(out_dir) / "launch-node0"
    spec_path = here / "spec.json"
    deadline = time.monotonic() + wait_s
    while not (spec_path.is_file() and not (here / "result.json").exists()):
        if time.monotonic() > deadline:
            raise DistributedFailure(f"Node 0 did not start the run within {wait_s:.0f} s ({spec_path}).")
        time.sleep(POLL_S)
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    threads = int(spec["config"].get("num_threads") or 1)
    child_env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "OMP_NUM_THREADS": str(threads),
    }
    cmd = torchrun_command(spec_path, int(spec["processes"]), int(spec["max_restarts"]), nodes, "")
    log_path = Path(out_dir) / f"launch-node{nodes.rank}.log"
    with log_path.open("wb") as log:
        proc = _spawn_torchrun(cmd, child_env, log)
        try:
            return proc.wait()
        except BaseException:
            _signal_group(proc, signal.SIGTERM)
            _wait_or_kill(proc)
            raise


def _spawn_torchrun(cmd: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    """torchrun in a process group of its own (a cancel signals it and nothing else), dying with us."""
    return subprocess.Popen(
        cmd,
        cwd=str(ROOT),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _write_examples(path: Path, examples: Iterable[ExampleLike]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps(asdict(as_example(e))) + "\n")


def _result(data: dict[str, Any]) -> TrainResult:
    names = {f.name for f in fields(TrainResult)}
    values = {k: v for k, v in data.items() if k in names}
    for key in ("final_dir", "last_checkpoint"):
        values[key] = Path(values[key]) if values.get(key) else None
    return TrainResult(**values)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this process's parent (the worker) dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, int(signal.SIGTERM), 0, 0, 0)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _wait_or_kill(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
