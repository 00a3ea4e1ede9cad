"""What every step of a training run shares: its folder, its event log, and the refusal that fails it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from training.models import TrainingRun, TrainingRunEvent


class TrainingRefused(Exception):
    """The run cannot train on what it was given; the message says why (the run fails with it)."""


def run_dir(run: TrainingRun) -> Path:
    """Checkpoints live here; share WORK_DIR between worker machines to resume across them."""
    return Path(settings.WORK_DIR) / "runs" / str(run.pk)


def training_run_event(
    *, run: TrainingRun, message: str, level: str = "info", data: dict | None = None
) -> None:
    TrainingRunEvent.objects.create(run=run, message=message[:5000], level=level, data=data or {})
