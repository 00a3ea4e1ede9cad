from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from training.services.base_model_sweep import base_model_sweep


class Command(BaseCommand):
    help = (
        "Remove what interrupted base-model imports left: staging folders, stored uploads and artifact "
        "prefixes no model version points to, older than BASE_MODEL_SWEEP_AFTER_HOURS (workers also run "
        "this every hour)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=None, help="Age threshold instead of the setting.")

    def handle(self, *args: Any, hours: float | None, **options: Any) -> None:
        counts = base_model_sweep(older_than=timedelta(hours=hours) if hours is not None else None)
        self.stdout.write(", ".join(f"{k}: {v} removed" for k, v in counts.items()))
