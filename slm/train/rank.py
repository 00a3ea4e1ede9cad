"""One rank of a distributed run: what torchrun starts N times (`-m slm.train.rank SPEC`).

It joins the process group torchrun set up (gloo on CPU, NCCL on CUDA), runs the ordinary training loop
(slm.train.loop.train) on the spec's examples, and on rank 0 reports to the parent through two
files next to the spec: progress.jsonl (one JSON object a line: "start" with the restart count, then
"progress" reports) and result.json (the TrainResult, written atomically at the end). SIGTERM (a cancel,
or torchrun shutting the group down) stops the loop after the current step, with a checkpoint. A rank
whose parent (torchrun's agent) dies gets SIGTERM too, so no rank outlives its launcher.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

# Stop-the-world deadline after a SIGTERM: a rank that cannot finish its step and checkpoint in this long
# (a peer gone, a hung collective) is ended by SIGALRM's default action.
STOP_DEADLINE_S = 120


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send `sig` to this process when its parent exits (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the parent died before we asked
        os.kill(os.getpid(), sig)


class Reporter:
    """Rank 0's channel to the parent: appended JSON lines, flushed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, kind: str, **data: Any) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": kind, **data}, default=str) + "\n")
            fh.flush()

    def progress(self, p: Any) -> None:
        self.write("progress", **asdict(p))


def read_examples(path: Path) -> list[Any]:
    from slm.train.config import TrainExample

    with path.open(encoding="utf-8") as fh:
        return [TrainExample(**json.loads(line)) for line in fh if line.strip()]


def run(spec_path: Path) -> int:
    die_with_parent()
    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()
        signal.alarm(STOP_DEADLINE_S)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    from datetime import timedelta

    import torch
    import torch.distributed as td

    from slm.train.checkpoints import write_json_atomic
    from slm.train.config import TrainConfig
    from slm.train.loop import train
    from slm.train.stream import ShardSet

    config = TrainConfig.from_dict(spec["config"])
    cuda = (config.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    timeout = timedelta(seconds=float(spec.get("timeout_s", 1800)))
    # torchrun's store outlives a restart: the keys of the ranks that died are still in it, and a new
    # rank would connect to a dead peer's address. Each restart gets keys of its own.
    store, rank, world = next(td.rendezvous("env://", timeout=timeout))
    td.init_process_group(
        backend="nccl" if cuda else "gloo",
        store=td.PrefixStore(f"atelier/restart-{restart}", store),
        rank=rank,
        world_size=world,
        timeout=timeout,
    )
    here = spec_path.parent
    reporter = Reporter(here / "progress.jsonl") if rank == 0 else None
    if reporter is not None:
        reporter.write("start", restart=restart, world=td.get_world_size(), pid=os.getpid())
    calls = 0
    fault = os.environ.get("ATELIER_TEST_RANK_FAULT", "")  # tests: "rank:call:restart" kills that rank

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        if fault:
            f_rank, f_call, f_restart = (int(x) for x in fault.split(":"))
            if (rank, calls, restart) == (f_rank, f_call, f_restart):
                os.kill(os.getpid(), signal.SIGKILL)
        return stop.is_set()

    if spec.get("shards"):
        train_data: Any = ShardSet.from_dict(spec["shards"])
        val_data: Any = []
    else:
        train_data, val_data = read_examples(here / "train.jsonl"), read_examples(here / "val.jsonl")
    try:
        result = train(
            config,
            train_data,
            val_data,
            Path(spec["out_dir"]),
            on_progress=reporter.progress if reporter is not None else None,
            should_stop=should_stop,
            init_from=Path(spec["init_from"]) if spec.get("init_from") else None,
        )
        if reporter is not None:
            write_json_atomic(here / "result.json", {**asdict(result), "restarts": restart})
        # The other ranks wait here while rank 0 validates and writes the model: a rank leaving the
        # group early can abort in gloo's teardown, and torchrun would take that for a failure.
        td.barrier()
    finally:
        if td.is_initialized():
            td.destroy_process_group()
    return 0


def main() -> None:
    from torch.distributed.elastic.multiprocessing.errors import record

    # record: a rank's exception goes to torchrun's error file, so the parent can say what failed.
    code = record(run)(Path(sys.argv[1]))
    # Done and torn down: leave without the interpreter's finalisation, where a loaded machine was seen to
    # abort in a C++ destructor of gloo's ("terminate called without an active exception") after a
    # finished run, which torchrun counts as a failed rank.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
