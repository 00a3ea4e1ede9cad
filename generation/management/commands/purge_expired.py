"""Purge request logs, generation requests and designs past their retention ages (see generation.retention)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation.retention import retention_days, retention_purge


class Command(BaseCommand):
    help = "Purge API request logs, generation requests and designs older than the configured retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be purged; change nothing."
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        days = retention_days()
        summary = retention_purge(dry_run=dry_run)
        verb = "would purge" if dry_run else "purged"
        for kind, count in summary.items():
            self.stdout.write(f"{kind}: {verb} {count} (older than {days[kind]} days)")
