"""A checkpoint's trainer state is read without unpickling code: a crafted trainer_state.pt (a shared
WORK_DIR, a copied checkpoint) is refused and what it names never runs; a real one still resumes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from slm.train.checkpoints import TRAINER_STATE, load_trainer_state


class _Payload:
    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self):
        return (os.system, (f"touch {self.mark}",))


def test_a_crafted_trainer_state_does_not_run_its_code(tmp_path: Path) -> None:
    import torch

    mark = tmp_path / "ran"
    torch.save({"optimizer": _Payload(mark)}, tmp_path / TRAINER_STATE)
    with pytest.raises(pickle.UnpicklingError):
        load_trainer_state(tmp_path)
    assert not mark.exists()


def test_a_real_trainer_state_loads(tmp_path: Path) -> None:
    import random

    import torch

    from slm.train.checkpoints import rng_state

    net = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.99))
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    random.random()
    state = {"optimizer": opt.state_dict(), "schedule": {"step": 1, "elapsed": 0.5}, "rng": rng_state()}
    torch.save(
        {**state, "loss_ema": 1.5, "validation": [{"step": 1, "val_loss": 2.0}]}, tmp_path / TRAINER_STATE
    )
    back = load_trainer_state(tmp_path)
    assert back["schedule"] == {"step": 1, "elapsed": 0.5} and back["rng"]["python"] == state["rng"]["python"]
    opt.load_state_dict(back["optimizer"])
