"""Long commands show progress (core.progress): a bar on a terminal, nothing in logs; `export_snapshot`
writes exactly the rows of the stored export."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from core.progress import elapsed_bar, progress_bar
from tests.factories import TrainingExampleFactory
from training.models import TrainingExample
from training.services.snapshots import dataset_export, dataset_snapshot_create

pytestmark = pytest.mark.django_db


def test_export_snapshot_writes_the_stored_exports_rows(tmp_path: Path) -> None:
    TrainingExampleFactory.create_batch(5, status="approved")
    dataset = dataset_snapshot_create(name="icons", examples=TrainingExample.objects.all(), enqueue=False)
    dataset = dataset_export(dataset_id=dataset.pk)
    out = io.StringIO()
    call_command("export_snapshot", "icons:1", "--out", str(tmp_path / "icons.jsonl"), stdout=out)
    written = (tmp_path / "icons.jsonl").read_bytes()
    assert written.count(b"\n") == 5
    assert f"md5={dataset.export_md5} (the stored export's)" in out.getvalue()


def test_bars_stay_quiet_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    bar = progress_bar(total=3, desc="rows")
    bar.update(3)
    bar.close()
    with elapsed_bar("evaluating") as ticking:
        assert ticking.disable
    assert bar.disable
    assert capsys.readouterr().err == ""
