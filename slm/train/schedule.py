"""The learning-rate schedule and the progress estimates a run reports."""

from __future__ import annotations

import math

from slm.train.config import Progress, TrainConfig


def lr_at(config: TrainConfig, step: int, elapsed: float) -> float:
    """Linear warm-up, then cosine decay over the run's progress: the larger of the step fraction and the
    time-budget fraction, so a time-bounded run still ends its decay when the budget runs out."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    return config.learning_rate * warm * _decay(config, progress_fraction(config, step, elapsed))


def _decay(config: TrainConfig, progress: float) -> float:
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cos


def progress_fraction(config: TrainConfig, step: int, elapsed: float) -> float:
    fractions = [0.0]
    if config.max_steps:
        fractions.append(step / config.max_steps)
    if config.budget_seconds:
        fractions.append(elapsed / config.budget_seconds)
    return min(1.0, max(fractions))


class Schedule:
    """The LR schedule as a resumable object (its state is the step and the training time so far)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.step = 0
        self.elapsed = 0.0

    def lr(self) -> float:
        return lr_at(self.config, self.step, self.elapsed)

    def state_dict(self) -> dict[str, float]:
        return {"step": self.step, "elapsed": self.elapsed}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])


def progress_report(
    config: TrainConfig,
    schedule: Schedule,
    loss: float | None,
    rate: float,
    steps_run: int,
    run_s: float,
    lr: float,
) -> Progress:
    step, elapsed = schedule.step, schedule.elapsed
    sec_per_step = run_s / steps_run if steps_run else 0.0
    etas, totals = [], []
    if config.max_steps:
        etas.append(max(0, config.max_steps - step) * sec_per_step)
        totals.append(config.max_steps)
    if config.budget_seconds:
        remaining = max(0.0, config.budget_seconds - elapsed)
        etas.append(remaining)
        totals.append(step + int(remaining / sec_per_step) if sec_per_step else step)
    return Progress(
        step=step,
        total_steps=max(step, min(totals)) if totals else step,
        loss=float(loss) if loss is not None else float("nan"),
        tokens_per_second=rate,
        eta_seconds=min(etas) if etas else 0.0,
        learning_rate=lr,
        elapsed_seconds=elapsed,
    )
