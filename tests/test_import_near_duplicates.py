"""At import, rows whose renderings are near-duplicates of existing examples are reported, then kept or
skipped as the import says; new rows' fingerprints are stored and the index is rebuilt after."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from core.svg import clean_svg
from tests.shared_fixtures import MDI_ICONS
from training.models import ExampleFingerprint, ImportBatch, SimilarityIndexBuild, TrainingExample
from training.services.import_run import import_batch_run
from training.services.imports import import_batch_create
from training.services.similarity import similarity_index_build_execute

pytestmark = pytest.mark.django_db
MDI = MDI_ICONS


@pytest.fixture(autouse=True)
def _work_dir(settings, tmp_path):
    settings.WORK_DIR = tmp_path


def existing(name: str) -> TrainingExample:
    return TrainingExample.objects.create(
        prompt=f"{name} icon",
        svg_content=clean_svg((MDI / f"{name}.svg").read_text()).svg,
        external_id=name,
        content_hash=hashlib.sha256(name.encode()).hexdigest(),
    )


def build_index() -> None:
    from core.jobs.lifecycle import job_claim

    build = SimilarityIndexBuild.objects.create()
    similarity_index_build_execute(build=job_claim(SimilarityIndexBuild, build.pk))


def recoloured_shifted(name: str) -> str:
    svg = (MDI / f"{name}.svg").read_text()
    inner = svg.split(">", 1)[1].rsplit("</svg>", 1)[0].replace("<path ", '<path fill="#8e24aa" ')
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g transform="translate(1 0)">{inner}</g></svg>'


def run_import(tmp_path: Path, policy: str, **kwargs) -> ImportBatch:
    rows = [
        {"prompt": "a house, redrawn", "svg": recoloured_shifted("home"), "external_id": "house-copy"},
        {"prompt": "a cog", "svg": (MDI / "cog.svg").read_text(), "external_id": "cog"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    batch = import_batch_create(
        source_name=path.name,
        source_path=str(path),
        format="jsonl",
        near_duplicates=policy,
        enqueue=False,
        **kwargs,
    )
    return import_batch_run(batch_id=batch.pk)


def test_skip_leaves_out_the_near_duplicate_and_reports_it(tmp_path, django_capture_on_commit_callbacks):
    home = existing("home")
    existing("account")
    build_index()
    batch = run_import(tmp_path, "skip")
    near = batch.report["near_duplicates"]
    assert batch.status == "completed" and near["checked"] is True
    assert near["count"] == 1 and near["skipped"] == 1
    assert near["rows"][0]["line"] == 1 and near["rows"][0]["nearest"] == str(home.pk)
    assert near["rows"][0]["action"] == "skipped" and near["rows"][0]["similarity"] >= 0.9
    assert not TrainingExample.objects.filter(external_id="house-copy").exists()
    cog = TrainingExample.objects.get(external_id="cog")
    assert ExampleFingerprint.objects.get(
        example=cog
    ).rendered  # stored at import: the build need not render it
    assert SimilarityIndexBuild.objects.filter(status="pending", reason__startswith="import").exists()


def test_keep_stores_it_and_reports_it_kept(tmp_path):
    existing("home")
    build_index()
    batch = run_import(tmp_path, "keep")
    near = batch.report["near_duplicates"]
    assert near["count"] == 1 and near["skipped"] == 0 and near["rows"][0]["action"] == "kept"
    assert TrainingExample.objects.filter(external_id="house-copy").exists()
    assert batch.rows_created == 2


def test_without_an_index_rows_are_stored_unchecked_and_a_build_is_queued(tmp_path):
    existing("home")
    batch = run_import(tmp_path, "skip")
    near = batch.report["near_duplicates"]
    assert near["checked"] is False and "queued" in near["note"]
    assert batch.rows_created == 2
    assert SimilarityIndexBuild.objects.filter(status="pending").count() == 1


def test_an_import_told_not_to_index_queues_no_build(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "a cog", "svg": (MDI / "cog.svg").read_text()}))
    batch = import_batch_create(source_name=path.name, source_path=str(path), format="jsonl", enqueue=False)
    assert import_batch_run(batch_id=batch.pk, index=False).rows_created == 1
    assert not SimilarityIndexBuild.objects.exists()
    batch = import_batch_create(source_name="again", source_path=str(path), format="jsonl", enqueue=False)
    import_batch_run(batch_id=batch.pk)  # the default: the import queues the build (here: a duplicate row)
    assert not SimilarityIndexBuild.objects.exists()  # nothing new stored, nothing to index
    path.write_text(json.dumps({"prompt": "a house", "svg": (MDI / "home.svg").read_text()}))
    batch = import_batch_create(source_name="new", source_path=str(path), format="jsonl", enqueue=False)
    import_batch_run(batch_id=batch.pk)
    assert SimilarityIndexBuild.objects.count() == 1


def test_the_demo_corpus_is_indexed_once_its_training_run_has_ended():
    from tests.factories import synthetic_snapshot
    from training.models import TrainingRun
    from training.services.demo import demo_index_when_trained

    run = TrainingRun.objects.create(dataset=synthetic_snapshot(count=8), status="running")
    assert demo_index_when_trained(run_id=run.pk, limit_s=0.3, poll_s=0.05) is False  # gave up waiting
    assert SimilarityIndexBuild.objects.count() == 1  # queued anyway: the index is never left out
    SimilarityIndexBuild.objects.all().delete()
    TrainingRun.objects.filter(pk=run.pk).update(status="completed")
    assert demo_index_when_trained(run_id=run.pk, limit_s=30, poll_s=0.05) is True
    assert SimilarityIndexBuild.objects.count() == 1
