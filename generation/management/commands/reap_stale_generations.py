"""Return generation requests a dead worker left `processing` to the queue, or fail them after N attempts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation.services import claim_stale_after, generation_reap_stale


class Command(BaseCommand):
    help = "Requeue (or fail, after GENERATION_MAX_ATTEMPTS) generations stuck in `processing`."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="Seconds since the last heartbeat (default: GENERATION_CLAIM_TTL_SECONDS, 600).",
        )

    def handle(self, *args: Any, older_than: int | None, **options: Any) -> None:
        from generation.tasks import generate

        age = timedelta(seconds=older_than) if older_than is not None else claim_stale_after()
        result = generation_reap_stale(older_than=age)
        for pk in result.requeued:
            generate.send(pk)
        self.stdout.write(f"requeued {len(result.requeued)}, failed {len(result.failed)}")
