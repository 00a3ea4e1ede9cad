"""What the training loop needs of torch.distributed when torchrun started it as one of N processes.

Every rank draws the same global batch (same seed, same batcher state) and trains on its share of it
(`shard`); the loss of each share is weighted by its share of the global batch's target tokens, so DDP's
averaging of gradients gives exactly the single-process gradient: the global batch, the learning rate and
the loss curve are those of one process. Rank 0 alone validates, checkpoints and reports; the ranks agree
on when to stop (a cancel on any rank, the time budget on rank 0's clock) through one small all-reduce a
step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: Sequence[int]) -> tuple[list[int], bool]:
        """This rank's examples of a global batch; when the batch is smaller than the world, a rank with
        none gets one example to run at zero weight (every rank must take part in each backward)."""
        mine = list(batch[self.rank :: self.world])
        return (mine, True) if mine else ([batch[0]], False)

    def barrier(self) -> None:
        import torch.distributed as td

        td.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's value, on every rank."""
        import torch.distributed as td

        box = [value]
        td.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, loss_part: float, stop: bool, elapsed: float, device: str) -> tuple[float, bool, float]:
        """One all-reduce a step: the global loss (the sum of the weighted shares), whether any rank must
        stop, and rank 0's training time (so every rank's schedule and budget read the same clock)."""
        import torch
        import torch.distributed as td

        t = torch.tensor(
            [loss_part, 1.0 if stop else 0.0, elapsed if self.main else 0.0],
            dtype=torch.float64 if not device.startswith("cuda") else torch.float32,
            device=device,
        )
        td.all_reduce(t)
        loss, stopping, clock = t.tolist()
        return loss, stopping > 0, clock


def current() -> Dist | None:
    """The process group this process belongs to (more than one process), else None."""
    import torch.distributed as td

    if not td.is_available() or not td.is_initialized() or td.get_world_size() < 2:
        return None
    import os

    return Dist(td.get_rank(), td.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def wrap(model: Any, device: str) -> Any:
    """The model's loss as one DDP module: a step goes through DDP's forward, so its gradient buckets
    are reduced during backward."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from slm.train.loss import lm_loss

    class LossOf(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return lm_loss(self.inner, ids, labels)

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DistributedDataParallel(LossOf(model), device_ids=ids)


def target_tokens(lengths: Sequence[int], prefixes: Sequence[int]) -> int:
    """How many positions of these sequences the loss covers (the SVG and [eos])."""
    return sum(n - p for n, p in zip(lengths, prefixes, strict=True))
