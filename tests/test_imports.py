"""Imports: per-row reasons, dry runs, all-or-nothing vs skip-invalid, dedup and upsert, provenance."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from training.models import ImportBatch, TrainingExample
from training.services.import_run import import_batch_run
from training.services.imports import import_batch_create

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures" / "imports"
LUCIDE = Path(__file__).resolve().parents[2] / "shared" / "data" / "lucide" / "icons"


def _run(path: Path, fmt: str, **kwargs) -> ImportBatch:
    batch = import_batch_create(
        source_name=path.name, source_path=str(path), format=fmt, enqueue=False, **kwargs
    )
    return import_batch_run(batch_id=batch.pk)


def test_every_bad_row_has_a_reason_and_all_or_nothing_stores_nothing():
    batch = _run(FIXTURES / "mixed.jsonl", "jsonl")
    assert batch.status == "failed"
    assert TrainingExample.objects.count() == 0
    reasons = {row["line"]: row["reason"] for row in batch.report["invalid"]}
    assert "missing field(s): svg" in reasons[3]
    assert "malformed JSON" in reasons[4]
    assert "svg rejected" in reasons[5] and "<svg>" in reasons[5]
    assert "svg rejected" in reasons[7] and ("DTD" in reasons[7] or "entit" in reasons[7])
    assert "JSON object" in reasons[8]
    assert "viewBox" in reasons[9]
    assert "UTF-8" in reasons[10]
    assert batch.report["rolled_back"] is True
    assert batch.rows_created == 0
    assert "nothing was stored" in batch.error_log


def test_skip_invalid_stores_valid_rows_sanitised_and_dedups_normalised_copies():
    batch = _run(FIXTURES / "mixed.jsonl", "jsonl", mode="skip_invalid")
    assert batch.status == "completed"
    assert batch.rows_invalid == 7
    # Row 6 is row 1 with other quoting, attribute order and 20.0001: the same normalised design.
    assert batch.rows_duplicate == 1
    assert batch.rows_created == 2 == TrainingExample.objects.count()
    square = TrainingExample.objects.get(external_id="s1")
    assert "onload" not in square.svg_content and "script" not in square.svg_content
    assert any("script" in k for k in batch.report["sanitiser_removed"])
    # Provenance on every example.
    circle = TrainingExample.objects.get(external_id="c1")
    assert circle.import_batch == batch and circle.source_line == 1 and circle.source_type == "jsonl"
    assert circle.metadata["source_file"] == "mixed.jsonl"
    assert circle.tags == ["circle", "red"]


def test_dry_run_stores_nothing_and_reports_what_would_happen():
    batch = _run(FIXTURES / "clean.csv", "csv", dry_run=True)
    assert batch.status == "completed"
    assert batch.report["counts"] == {
        "read": 2,
        "valid": 2,
        "invalid": 0,
        "duplicates": 0,
        "created": 2,
        "updated": 0,
    }
    assert TrainingExample.objects.count() == 0


def test_csv_import_twice_adds_nothing_and_upserts_changed_rows(tmp_path):
    first = _run(FIXTURES / "clean.csv", "csv")
    assert first.rows_created == 2
    assert TrainingExample.objects.get(external_id="t1").metadata["author"] == "demo"
    again = _run(FIXTURES / "clean.csv", "csv")
    assert again.rows_created == 0 and again.rows_duplicate == 2
    changed = tmp_path / "changed.csv"
    changed.write_text(
        (FIXTURES / "clean.csv").read_text().replace("a green triangle", "a big green triangle")
    )
    third = _run(changed, "csv")
    assert third.rows_updated == 1 and third.rows_created == 0
    assert TrainingExample.objects.get(external_id="t1").prompt == "a big green triangle"
    assert TrainingExample.objects.count() == 2


def test_zip_of_svgs_with_oversized_and_hostile_members(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "icons/star.svg",
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="M1 1L9 9"/></svg>',
        )
        zf.writestr("icons/star.json", json.dumps({"tags": ["sky"], "categories": ["shapes"]}))
        zf.writestr("big.svg", "<svg>" + " " * 1_100_000 + "</svg>")
        zf.writestr(
            "evil.svg",
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><foreignObject><iframe src="javascript:alert(1)"/></foreignObject><rect width="5" height="5"/></svg>',
        )
        zf.writestr("notes.txt", "ignored")
    path = tmp_path / "set.zip"
    path.write_bytes(buf.getvalue())
    batch = _run(path, "zip", mode="skip_invalid")
    assert batch.rows_read == 3
    assert batch.rows_created == 2
    assert "larger than" in batch.report["invalid"][0]["reason"]
    star = TrainingExample.objects.get(external_id="star")
    assert star.prompt == "star icon; tags: sky; categories: shapes"
    evil = TrainingExample.objects.get(external_id="evil")
    assert "foreignObject" not in evil.svg_content and "javascript" not in evil.svg_content


def test_not_a_zip_fails_cleanly(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04 not really")
    batch = _run(path, "zip")
    assert batch.status == "failed"
    assert "not a valid ZIP" in batch.error_log


@pytest.mark.skipif(not LUCIDE.is_dir(), reason="../shared/data/lucide is not beside the checkout")
def test_lucide_icon_set_imports_through_the_command_and_twice_adds_nothing(tmp_path, capsys):
    # A deterministic slice keeps the suite fast; the bench and the README run the whole set.
    subset = tmp_path / "icons"
    subset.mkdir()
    for svg in sorted(LUCIDE.glob("*.svg"))[:120]:
        shutil.copy(svg, subset / svg.name)
        shutil.copy(svg.with_suffix(".json"), subset / svg.with_suffix(".json").name)
    call_command("import_training_data", str(subset))
    out = capsys.readouterr().out
    assert "icon_set" in out and "invalid=0" in out
    created = TrainingExample.objects.filter(source_type="icon_set").count()
    assert created >= 115  # a few Lucide icons share one design
    example = TrainingExample.objects.filter(source_type="icon_set").order_by("external_id").first()
    assert example.prompt.startswith(example.external_id.replace("-", " ") + " icon")
    call_command("import_training_data", str(subset))
    assert "created=0" in capsys.readouterr().out
    assert TrainingExample.objects.filter(source_type="icon_set").count() == created


def test_command_dry_run_exits_cleanly_and_bad_path_is_an_error(capsys):
    call_command("import_training_data", str(FIXTURES / "clean.csv"), "--dry-run")
    assert "dry run" in capsys.readouterr().out
    assert TrainingExample.objects.count() == 0
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_training_data", "/nonexistent/file.jsonl")
    with pytest.raises(CommandError, match="nothing was stored"):
        call_command("import_training_data", str(FIXTURES / "mixed.jsonl"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["skip_invalid", "all_or_nothing"])
def test_rows_checked_in_worker_processes_report_and_store_as_in_one_process(
    monkeypatch, settings, tmp_path, mode
):
    """The same file through the pool of check workers (small chunks so it is used) and in this process
    alone: the same counts, per-row reasons (lines in order), stored rows; all or nothing stores none."""
    import training.services.import_checks as import_checks
    import training.services.import_run as import_run

    rows = (FIXTURES / "mixed.jsonl").read_bytes().splitlines()
    path = tmp_path / "big.jsonl"
    # Repeats of the fixture's rows with new external ids and prompts: invalid rows everywhere, duplicates.
    lines = []
    for i in range(30):
        for row in rows:
            try:
                data = json.loads(row)
            except ValueError:
                lines.append(row)
                continue
            if isinstance(data, dict) and data.get("external_id"):
                data["external_id"] = f"{data['external_id']}-{i}"
            lines.append(json.dumps(data).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(import_checks, "CHUNK", 40)
    monkeypatch.setattr(import_run, "CHUNK", 40)
    monkeypatch.setattr(import_checks, "TASK_ROWS", 7)

    def run(workers: int) -> tuple[ImportBatch, list[tuple[str, str, int]]]:
        settings.IMPORT_WORKERS = workers
        batch = _run(path, "jsonl", mode=mode)
        stored = sorted(TrainingExample.objects.values_list("external_id", "content_hash", "source_line"))
        TrainingExample.all_objects.all().delete()
        return batch, stored

    alone, stored_alone = run(1)
    pooled, stored_pooled = run(2)
    assert import_checks._pool is not None  # the second run went through worker processes
    assert [getattr(pooled, n) for n in import_run.COUNTS] == [getattr(alone, n) for n in import_run.COUNTS]
    assert pooled.report == alone.report and pooled.status == alone.status
    assert [r["line"] for r in pooled.report["invalid"]] == sorted(
        r["line"] for r in pooled.report["invalid"]
    )
    assert stored_pooled == stored_alone
    if mode == "all_or_nothing":
        assert pooled.status == "failed" and stored_pooled == []
    else:
        assert (
            pooled.rows_invalid > 0 and pooled.rows_created > 0 and len(stored_pooled) == pooled.rows_created
        )
