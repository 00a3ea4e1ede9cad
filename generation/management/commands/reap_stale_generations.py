"""Hand back generation requests a dead worker left running (core.jobs), and send them again; a request
whose attempts are used up fails instead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.jobs.lifecycle import claim_ttl, job_reap
from generation.models import DesignOutput


class Command(BaseCommand):
    help = "Requeue (or fail, after JOB_MAX_ATTEMPTS) generations whose worker stopped beating."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="Seconds since the last heartbeat (default: JOB_CLAIM_TTL_SECONDS).",
        )

    def handle(self, *args: Any, older_than: int | None, **options: Any) -> None:
        from generation.tasks import generate

        age = timedelta(seconds=older_than) if older_than is not None else claim_ttl()
        result = job_reap(DesignOutput, older_than=age)
        for pk in result.requeued:
            generate.send(pk)
        self.stdout.write(f"requeued {len(result.requeued)}, failed {len(result.failed)}")
