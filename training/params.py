"""Training hyperparameters as the admin and API see them, mapped onto training.ml's TrainConfig."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class TrainingParams:
    budget_seconds: int = 300
    max_steps: int = 0  # 0: bounded by the time budget only
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 30
    seed: int = 0
    checkpoint_every: int = 250
    arch: str = "gpt2"
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 320
    num_threads: int = 0  # 0: every core torch sees

    LIMITS = {
        "budget_seconds": (0, 24 * 3600),
        "max_steps": (0, 10_000_000),
        "batch_size": (1, 1024),
        "learning_rate": (1e-6, 1.0),
        "warmup_steps": (0, 100_000),
        "seed": (0, 2**31 - 1),
        "checkpoint_every": (1, 1_000_000),
        "n_layer": (1, 48),
        "n_embd": (16, 4096),
        "n_head": (1, 64),
        "n_positions": (32, 8192),
        "num_threads": (0, 256),
    }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainingParams:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        errors: dict[str, list[str]] = {}
        if unknown:
            errors["training_params"] = [f"Unknown parameter(s): {', '.join(unknown)}."]
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            raw = data[f.name]
            try:
                values[f.name] = type(getattr(cls, f.name))(raw) if f.name != "arch" else str(raw)
            except (TypeError, ValueError):
                errors[f.name] = [f"Not a valid {type(getattr(cls, f.name)).__name__}."]
                continue
            lo_hi = cls.LIMITS.get(f.name)
            if lo_hi and not lo_hi[0] <= values[f.name] <= lo_hi[1]:
                errors[f.name] = [f"Must be between {lo_hi[0]} and {lo_hi[1]}."]
        params = cls(**values)
        if params.arch not in ("gpt2", "llama"):
            errors["arch"] = ["Choose gpt2 or llama."]
        if params.n_embd % params.n_head:
            errors["n_head"] = ["n_embd must be divisible by n_head."]
        if not params.budget_seconds and not params.max_steps:
            errors["budget_seconds"] = ["Give a time budget or a number of steps."]
        if errors:
            raise ValidationError(errors)
        return params

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def train_config(self) -> Any:
        from training.ml.model import ModelConfig
        from training.ml.train.config import TrainConfig

        return TrainConfig(
            model=ModelConfig(
                arch=self.arch,
                n_layer=self.n_layer,
                n_embd=self.n_embd,
                n_head=self.n_head,
                n_positions=self.n_positions,
            ),
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            warmup_steps=self.warmup_steps,
            max_steps=self.max_steps or None,
            budget_seconds=float(self.budget_seconds) or None,
            checkpoint_every=self.checkpoint_every,
            seed=self.seed,
            num_threads=self.num_threads or None,
        )
