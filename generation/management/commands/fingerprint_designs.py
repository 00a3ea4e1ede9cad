"""Store the fingerprints of generated designs that lack one (completed before they were stored, or their
worker died first); new designs get theirs from the worker (generation.services.fingerprints)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.progress import progress_bar
from generation.services.fingerprints import design_fingerprints_backfill


class Command(BaseCommand):
    help = "Fingerprint every generated design that has no stored fingerprint yet."

    def handle(self, *args: Any, **options: Any) -> None:
        bar = progress_bar(total=None, desc="designs", unit="design")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        done = design_fingerprints_backfill(on_progress=progress)
        bar.close()
        self.stdout.write(f"fingerprinted {done}")
