"""Shared fixtures for the ML tests: one tiny model trained once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from slm.model import ModelConfig
from slm.synthetic import SyntheticExample, generate_corpus
from slm.train.config import Progress, TrainConfig, TrainResult
from slm.train.loop import train

TINY = ModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=256)


def tiny_config(**overrides: object) -> TrainConfig:
    """A model that trains a step in milliseconds: for mechanics (resume, cancel, checkpoints)."""
    base = {
        "model": TINY,
        "batch_size": 16,
        "learning_rate": 5e-3,
        "warmup_steps": 5,
        "max_steps": 20,
        "budget_seconds": None,
        "checkpoint_every": 10,
        "progress_every": 1,
        "num_threads": 1,
    }
    base.update(overrides)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def corpus() -> list[SyntheticExample]:
    return list(generate_corpus(1500, seed=11))


@dataclass
class Trained:
    result: TrainResult
    progress: list[Progress]


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, corpus: list[SyntheticExample]) -> Trained:
    """A small model trained for a few seconds: enough for loss to fall and for greedy output to be SVG."""
    out = tmp_path_factory.mktemp("trained")
    progress: list[Progress] = []
    config = TrainConfig(
        model=ModelConfig(n_layer=2, n_embd=64, n_head=4, n_positions=256),
        batch_size=32,
        learning_rate=5e-3,
        warmup_steps=10,
        max_steps=120,
        budget_seconds=None,
        checkpoint_every=0,
        progress_every=10,
    )
    result = train(config, corpus[:1400], corpus[1400:], Path(out), on_progress=progress.append)
    return Trained(result=result, progress=progress)
