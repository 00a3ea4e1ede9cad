from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import StyleGuide
from core.db import require_migrated
from core.progress import progress_bar
from training.models import ImportBatch
from training.readers import detect_format
from training.services.import_run import import_batch_run
from training.services.imports import import_batch_create


class Command(BaseCommand):
    help = "Import training examples from JSONL, CSV, a ZIP or folder of SVGs, or an icon set folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; store nothing.")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="Store valid rows even if some are invalid."
        )
        parser.add_argument("--status", default="draft", choices=["draft", "approved", "rejected"])
        parser.add_argument("--style-guide", default="", help="Name of the style guide the examples follow.")
        parser.add_argument("--json", action="store_true", help="Print the full report as JSON.")
        parser.add_argument(
            "--user",
            default="",
            help="Username of who imports: with --status approved or rejected, that user's review of each row.",
        )

    def handle(
        self,
        *args: Any,
        path: str,
        dry_run: bool,
        skip_invalid: bool,
        status: str,
        style_guide: str,
        json: bool = False,
        user: str = "",
        **options: Any,
    ) -> None:
        require_migrated()
        source = Path(path).expanduser().resolve()
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        try:
            fmt = detect_format(source)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        guide = None
        if style_guide:
            guide = StyleGuide.objects.filter(guide_name=style_guide).first()
            if guide is None:
                raise CommandError(f"No style guide named {style_guide!r}.")
        importer = None
        if user:
            importer = get_user_model().objects.filter(username=user).first()
            if importer is None:
                raise CommandError(f"No user named {user!r}.")
        batch = import_batch_create(
            source_name=source.name,
            source_path=str(source),
            format=fmt,
            mode=ImportBatch.Mode.SKIP_INVALID if skip_invalid else ImportBatch.Mode.ALL_OR_NOTHING,
            dry_run=dry_run,
            default_status=status,
            style_guide=guide,
            created_by=importer,
            enqueue=False,
        )
        bar = progress_bar(total=1000, desc=f"{fmt} {source.name}", unit="‰")

        def progress(b: ImportBatch) -> None:
            bar.n = int(b.progress * 1000)
            bar.set_postfix(rows=b.rows_read)
            bar.refresh()

        batch = import_batch_run(batch_id=batch.pk, on_progress=progress)
        bar.close()
        self._print_report(batch, as_json=json)
        if batch.status == "failed":
            raise CommandError(
                "Import failed; nothing was stored."
                if batch.report.get("rolled_back") or dry_run
                else "Import failed."
            )

    def _print_report(self, batch: ImportBatch, *, as_json: bool) -> None:
        report = batch.report
        if as_json:
            self.stdout.write(json.dumps(report, indent=2))
            return
        c = report["counts"]
        self.stdout.write(
            f"Import {batch.pk} ({batch.format}, {'dry run' if batch.dry_run else batch.mode}): {batch.status}"
        )
        self.stdout.write(
            f"read={c['read']} valid={c['valid']} invalid={c['invalid']} duplicates={c['duplicates']} "
            f"created={c['created']} updated={c['updated']}"
        )
        for row in report["invalid"][:50]:
            self.stdout.write(f"  invalid line {row['line']} ({row['source']}): {row['reason']}")
        if report["sanitiser_removed"]:
            self.stdout.write(
                "Sanitiser removed: " + ", ".join(f"{k} ×{v}" for k, v in report["sanitiser_removed"].items())
            )
        if report.get("rolled_back"):
            self.stdout.write(
                self.style.WARNING(
                    "All or nothing: invalid rows found, nothing was stored. Fix them or use --skip-invalid."
                )
            )
