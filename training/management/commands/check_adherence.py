from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from slm.adherence import check


class Command(BaseCommand):
    help = "Check rows (prompt, svg) of a JSONL file against their prompts; last line: adherence=… valid=…"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--show-failures", type=int, default=5, help="Print up to N failing rows.")

    def handle(self, *args: Any, path: str, show_failures: int, **options: Any) -> None:
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        n = adherent = valid = bad_rows = 0
        with source.open(encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    prompt, svg = row["prompt"], row["svg"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    bad_rows += 1
                    n += 1
                    self.stderr.write(f"line {line_no}: not a JSON object with prompt and svg")
                    continue
                result = check(prompt, svg)
                n += 1
                adherent += result.adherent
                valid += result.valid
                if not result.adherent and show_failures > 0:
                    show_failures -= 1
                    self.stdout.write(f"line {line_no}: {prompt!r}: {result.error or result.aspects}")
        if n == 0:
            raise CommandError("No rows to check.")
        self.stdout.write(f"rows={n} unreadable={bad_rows}")
        self.stdout.write(f"adherence={adherent / n:.4f} valid={valid / n:.4f}")
