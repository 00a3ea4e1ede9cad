"""A training run on a snapshot's Parquet export (issue 25): it streams the shards; a shard whose bytes no
longer match the manifest fails the run with a reason that names it; too few designs the model form can
express refuse it as the in-memory path does, with the reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from core.roles import ML_STAFF
from tests.factories import UserFactory, synthetic_snapshot
from tests.shared_fixtures import tiny_params
from training.models import TrainingExample
from training.services.runs import training_run_create

TINY = tiny_params(max_steps=6)


@pytest.fixture
def dataset(db, settings):
    settings.DATASET_ROWS_PER_SHARD = 40  # the 108 training rows in three shards
    return synthetic_snapshot(count=120)


@pytest.fixture
def ml_staff(roles):
    user = UserFactory(username="mlops", is_staff=True)
    user.groups.add(Group.objects.get(name=ML_STAFF))
    return user


def _run(dataset, ml_staff, stub_broker, stub_worker):
    run = training_run_create(dataset=dataset, params=TINY, requested_by=ml_staff)
    stub_broker.join("training")
    stub_worker.join()
    run.refresh_from_db()
    return run


@pytest.mark.django_db(transaction=True)
def test_a_run_streams_its_snapshots_shards(dataset, ml_staff, stub_broker, stub_worker):
    assert len([s for s in dataset.export_manifest["shards"] if s["split"] == "train"]) == 3
    run = _run(dataset, ml_staff, stub_broker, stub_worker)
    assert run.status == "completed", run.error_message
    messages = list(run.events.values_list("message", flat=True))
    assert any("streamed from 3 Parquet shard(s)" in m for m in messages), messages


@pytest.mark.django_db(transaction=True)
def test_a_damaged_shard_fails_the_run_naming_it(dataset, ml_staff, stub_broker, stub_worker):
    prefix = dataset.export_manifest["prefix"]
    shard = Path(settings.MEDIA_ROOT) / prefix / "train-00001.parquet"
    raw = bytearray(shard.read_bytes())
    raw[100] ^= 0xFF
    shard.write_bytes(bytes(raw))
    run = _run(dataset, ml_staff, stub_broker, stub_worker)
    assert run.status == "failed"
    assert "Shard train-00001.parquet does not match its manifest" in run.error_message


@pytest.mark.django_db(transaction=True)
def test_too_few_designs_the_model_form_can_express_refuse_a_streamed_run(
    settings, ml_staff, stub_broker, stub_worker
):
    settings.DATASET_ROWS_PER_SHARD = 40
    text = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><text x="2" y="12">{}</text></svg>'
    for i in range(40):  # text: the model form cannot write it
        TrainingExample.objects.create(
            prompt=f"label {i}", svg_content=text.format(i), content_hash=f"{i:064d}", status="approved"
        )
    dataset = synthetic_snapshot(count=5)  # the snapshot holds all 45; at most 5 can be trained on
    assert dataset.export_manifest["shards"]
    run = _run(dataset, ml_staff, stub_broker, stub_worker)
    assert run.status == "failed"
    assert "training examples can be written in the model form; a model needs at least 8" in run.error_message
    warning = run.events.get(level="warning", message__contains="cannot be written in the model form")
    assert "too few are left to train on" in warning.message and "text is not supported" in warning.message
