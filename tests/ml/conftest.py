"""Shared fixtures for the ML tests: one small model trained once per session (the tiny model for mechanics
is tests.shared_fixtures's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from slm.model import ModelConfig
from slm.synthetic import SyntheticExample, generate_corpus
from slm.train.config import Progress, TrainConfig, TrainResult
from slm.train.loop import train


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
