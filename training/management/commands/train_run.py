from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from slm.train.launch import DistributedFailure, Nodes, follow
from training.services.runs import training_run_run


class Command(BaseCommand):
    help = (
        "Run a queued training run here, on every node of a multi-node job: the same command on each node, "
        "with NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT set as torchrun, SkyPilot or Kubeflow's "
        "PyTorchJob set them. Node 0 claims the run, launches torchrun and writes everything; the other "
        "nodes join it through the run's folder under ATELIER_WORK_DIR, which all nodes must share."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id")
        parser.add_argument("--wait", type=float, default=3600.0, help="Seconds a node waits for node 0.")

    def handle(self, *args: Any, run_id: str, wait: float, **options: Any) -> None:
        nodes = Nodes.from_env()
        if nodes.rank == 0:
            run = training_run_run(run_id=run_id)
            self.stdout.write(
                f"Run {run.pk}: {run.status}{f' ({run.error_message})' if run.error_message else ''}"
            )
            if run.status == "failed":
                raise CommandError(run.error_message)
            return
        out_dir = Path(settings.WORK_DIR) / "runs" / run_id  # training.services.run_state.run_dir
        try:
            code = follow(out_dir, nodes, wait_s=wait)
        except DistributedFailure as exc:
            raise CommandError(str(exc)) from None
        if code:
            raise CommandError(f"torchrun ended with status {code} on node {nodes.rank}.")
        self.stdout.write(f"Node {nodes.rank} of {nodes.count} done.")
