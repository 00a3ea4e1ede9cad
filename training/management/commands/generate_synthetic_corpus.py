from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from slm.corpus import write_jsonl
from slm.synthetic import generate_corpus


class Command(BaseCommand):
    help = "Write N synthetic designs (prompt, canonical SVG, spec) as JSONL, deterministic for a seed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", required=True, help="Output .jsonl path.")
        parser.add_argument("--unique", action="store_true", help="No prompt twice.")

    def handle(self, *args: Any, count: int, seed: int, out: str, unique: bool, **options: Any) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1.")
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        n = write_jsonl(generate_corpus(count, seed=seed, unique=unique), path)
        self.stdout.write(f"wrote {n} rows to {path}")
