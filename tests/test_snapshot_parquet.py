"""Snapshots that stream (issue 25): a freeze paged through a cursor, a sharded Parquet export with its
manifest, an interrupted export resumed (never half-ready) or marked failed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from core.jobs.lifecycle import job_claim, job_reap
from core.jobs.models import JobStatus
from slm.shards import file_sha256
from tests.factories import StyleGuideFactory, TrainingExampleFactory
from training.models import Dataset, DatasetExport, TrainingExample
from training.selectors import dataset_examples
from training.services import snapshots
from training.services.snapshots import dataset_export, dataset_snapshot_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_shards(settings):
    settings.DATASET_ROWS_PER_SHARD = 4


def _examples(n: int) -> None:
    guide = StyleGuideFactory()
    TrainingExample.objects.bulk_create(
        [
            TrainingExampleFactory.build(status="approved", style_guide=guide if i % 2 else None)
            for i in range(n)
        ]
    )


def _media(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def test_freezing_pages_through_a_cursor_and_keeps_the_seeded_split(monkeypatch):
    _examples(23)
    monkeypatch.setattr(snapshots, "FREEZE_CHUNK", 5)  # several pages and several bulk inserts
    a = dataset_snapshot_create(name="a", examples=TrainingExample.objects.all(), seed=3, enqueue=False)
    monkeypatch.setattr(snapshots, "FREEZE_CHUNK", 1000)
    b = dataset_snapshot_create(name="a", examples=TrainingExample.objects.all(), seed=3, enqueue=False)
    assert a.record_count == b.record_count == 23 and a.content_hash == b.content_hash
    assert a.split["counts"] == {"train": 21, "validation": 1, "test": 1}
    split_a = dict(a.items.values_list("content_hash", "split"))
    assert split_a == dict(b.items.values_list("content_hash", "split"))
    # The split the in-memory code made: random.shuffle of the positions in content-hash order.
    hashes = sorted(TrainingExample.objects.values_list("content_hash", flat=True))
    order = list(range(len(hashes)))
    random.Random(3).shuffle(order)
    expected = {
        hashes[i]: "train" if r < 21 else "validation" if r < 22 else "test" for r, i in enumerate(order)
    }
    assert split_a == expected
    with_context = a.items.exclude(context="").count()
    assert with_context == TrainingExample.objects.exclude(style_guide=None).count() > 0


def test_the_export_writes_parquet_shards_with_a_manifest(small_shards):
    _examples(11)
    snap = dataset_snapshot_create(name="p", examples=TrainingExample.objects.all(), seed=1, enqueue=False)
    ready = dataset_export(dataset_id=snap.pk)
    assert ready.status == Dataset.Status.READY and ready.export_md5  # the JSONL is still written
    manifest = ready.export_manifest
    assert manifest["complete"] and manifest["rows"] == 11
    stored = json.loads(_media(f"{manifest['prefix']}/manifest.json").read_bytes())
    assert stored == manifest
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    assert [s["rows"] for s in train] == [4, 4, 1]  # 9 train rows in shards of 4
    for shard in manifest["shards"]:
        path = _media(f"{manifest['prefix']}/{shard['path']}")
        assert file_sha256(path) == shard["sha256"] and path.stat().st_size == shard["bytes"]
        assert pq.ParquetFile(path).metadata.num_rows == shard["rows"]
    prompts = [r for s in train for r in pq.read_table(_media(f"{manifest['prefix']}/{s['path']}"))["prompt"]]
    assert [p.as_py() for p in prompts] == [e.prompt for e in dataset_examples(dataset=ready, split="train")]


def test_jsonl_is_an_option(small_shards):
    _examples(5)
    snap = dataset_snapshot_create(
        name="nojsonl", examples=TrainingExample.objects.all(), enqueue=False, export_jsonl=False
    )
    ready = dataset_export(dataset_id=snap.pk)
    assert ready.status == Dataset.Status.READY and ready.export_manifest["complete"]
    assert not ready.storage_path and not ready.export_md5


def test_an_interrupted_export_resumes_after_its_stored_shards(small_shards):
    _examples(11)
    snap = dataset_snapshot_create(name="r", examples=TrainingExample.objects.all(), seed=1, enqueue=False)
    done = dataset_export(dataset_id=snap.pk).export_manifest
    # What a worker killed after its second shard leaves: a manifest of two shards, the snapshot processing,
    # the job running under a dead worker's claim; and a third shard half-written in storage.
    first_two = done["shards"][:2]
    partial = {**done, "shards": first_two, "complete": False}
    partial.pop("rows")
    Dataset.objects.filter(pk=snap.pk).update(
        status=Dataset.Status.PROCESSING, export_manifest=partial, storage_path="", export_md5=""
    )
    for shard in done["shards"][2:]:
        _media(f"{done['prefix']}/{shard['path']}").write_bytes(b"PAR1 torn")
    _media(f"{done['prefix']}/manifest.json").unlink()
    kept = {s["path"]: _media(f"{done['prefix']}/{s['path']}").stat().st_mtime_ns for s in first_two}
    DatasetExport.objects.filter(dataset=snap).update(
        status=JobStatus.RUNNING, worker_id="dead", attempts=1, heartbeat_at=None
    )
    assert Dataset.objects.get(pk=snap.pk).status != Dataset.Status.READY  # never ready while partial
    assert job_reap(DatasetExport, older_than=None).requeued == [str(snap.export_job.pk)]

    again = dataset_export(dataset_id=snap.pk)
    assert again.status == Dataset.Status.READY
    assert again.export_manifest == done  # the same shards, checksums and row counts as an export in one go
    for path, mtime in kept.items():  # the stored shards were kept, not written again
        assert _media(f"{done['prefix']}/{path}").stat().st_mtime_ns == mtime


def test_an_export_whose_attempts_run_out_marks_the_snapshot_failed(settings):
    settings.JOB_MAX_ATTEMPTS = 1
    _examples(3)
    snap = dataset_snapshot_create(name="x", examples=TrainingExample.objects.all(), enqueue=False)
    job = job_claim(DatasetExport, snap.export_job.pk)
    assert job is not None and job.attempts == 1
    DatasetExport.objects.filter(pk=job.pk).update(worker_id="dead", heartbeat_at=None)  # died mid-export
    assert job_reap(DatasetExport, older_than=None).failed == [str(job.pk)]
    failed = Dataset.objects.get(pk=snap.pk)
    assert failed.status == Dataset.Status.ERROR
    assert "did not finish after several attempts" in failed.error_message


def test_an_export_that_fails_is_marked_failed_with_the_reason(small_shards, monkeypatch):
    _examples(6)
    snap = dataset_snapshot_create(name="f", examples=TrainingExample.objects.all(), enqueue=False)

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(default_storage, "save", full_disk)  # the storage fails, not our code
    failed = dataset_export(dataset_id=snap.pk)
    assert failed.status == Dataset.Status.ERROR and "No space left on device" in failed.error_message
    assert failed.export_job.status == JobStatus.FAILED and not failed.export_manifest.get("complete")


def test_the_profile_reads_its_sample_through_a_cursor_as_from_the_whole_list(monkeypatch):
    from slm.recipe import profile_examples
    from training.services import profiles

    _examples(13)
    snap = dataset_snapshot_create(name="prof", examples=TrainingExample.objects.all(), enqueue=False)
    monkeypatch.setattr(profiles, "PROFILE_SAMPLE", 4)
    streamed = profiles.dataset_profile(dataset=snap, refresh=True)
    whole = profile_examples(dataset_examples(dataset=snap, split="train"), sample=4)
    assert streamed == whole and streamed["sampled"] == 4 and streamed["train_examples"] == 11
