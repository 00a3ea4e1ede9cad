from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import progress_bar
from training.models import Dataset
from training.selectors import dataset_export_items
from training.services.snapshots import export_line


class Command(BaseCommand):
    help = "Write a snapshot (NAME:VERSION) as JSONL to a local file, the rows of its stored export; prints the md5."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("snapshot", help="name:version, e.g. icon-set:1")
        parser.add_argument("--out", required=True, help="Output .jsonl path.")

    def handle(self, *args: Any, snapshot: str, out: str, **options: Any) -> None:
        name, _, version = snapshot.rpartition(":")
        if not name or not version.isdigit():
            raise CommandError("Give the snapshot as name:version, e.g. icon-set:1.")
        dataset = Dataset.objects.filter(name=name, version=int(version)).first()
        if dataset is None:
            raise CommandError(f"No snapshot {snapshot!r}.")
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        md5 = hashlib.md5(usedforsecurity=False)
        rows = 0
        with (
            path.open("wb") as fh,
            progress_bar(total=dataset.record_count, desc=str(dataset), unit="row") as bar,
        ):
            for item in dataset_export_items(dataset=dataset):
                line = export_line(item)
                md5.update(line)
                fh.write(line)
                rows += 1
                bar.update()
        same = " (the stored export's)" if dataset.export_md5 == md5.hexdigest() else ""
        self.stdout.write(f"wrote {rows} rows to {path} md5={md5.hexdigest()}{same}")
