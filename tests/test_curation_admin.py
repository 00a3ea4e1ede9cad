"""Curator flows in the admin: upload, dry run then commit (through the worker), approve, snapshot, export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.roles import CURATORS
from tests.factories import TrainingExampleFactory
from tests.shared_fixtures import user_in_role
from training.models import Dataset, ImportBatch, TrainingExample
from training.services.snapshots import dataset_snapshot_create

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures" / "imports"


@pytest.fixture
def curator(client):
    user = user_in_role("cora", CURATORS, is_staff=True)
    client.force_login(user)
    return user


@pytest.mark.django_db(transaction=True)
def test_upload_dry_run_then_commit_through_the_worker(client, curator, stub_broker, stub_worker):
    upload = SimpleUploadedFile("clean.csv", (FIXTURES / "clean.csv").read_bytes(), content_type="text/csv")
    response = client.post(
        reverse("admin:training_importbatch_upload"),
        {"file": upload, "dry_run": "on", "mode": "all_or_nothing", "default_status": "draft"},
    )
    assert response.status_code == 302
    stub_broker.join("imports")
    stub_worker.join()
    dry = ImportBatch.objects.get()
    assert dry.status == "completed" and dry.dry_run and TrainingExample.objects.count() == 0
    page = client.get(reverse("admin:training_importbatch_change", args=[dry.pk])).content.decode()
    assert "would create" in page and "Commit this import" in page

    response = client.post(
        reverse("admin:training_importbatch_commit", args=[dry.pk]), {"mode": "skip_invalid"}
    )
    assert response.status_code == 302
    stub_broker.join("imports")
    stub_worker.join()
    real = ImportBatch.objects.exclude(pk=dry.pk).get()
    assert real.status == "completed" and real.rows_created == 2 and real.created_by == curator
    assert TrainingExample.objects.filter(import_batch=real).count() == 2


def test_upload_rejects_other_file_types_with_a_field_error(client, curator):
    response = client.post(
        reverse("admin:training_importbatch_upload"),
        {"file": SimpleUploadedFile("x.exe", b"MZ"), "mode": "all_or_nothing", "default_status": "draft"},
    )
    assert response.status_code == 200
    assert "Upload a .jsonl, .csv or .zip file." in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_bulk_approve_and_reject_are_audited(client, curator):
    from auditlog.models import LogEntry

    examples = TrainingExampleFactory.create_batch(3)
    url = reverse("admin:training_trainingexample_changelist")
    client.post(url, {"action": "approve", "_selected_action": [str(e.pk) for e in examples[:2]]})
    client.post(url, {"action": "reject", "_selected_action": [str(examples[2].pk)]})
    statuses = dict(TrainingExample.objects.values_list("pk", "status"))
    assert [statuses[e.pk] for e in examples] == ["approved", "approved", "rejected"]
    assert TrainingExample.objects.get(pk=examples[0].pk).reviewed_by == curator
    entry = LogEntry.objects.get_for_object(examples[2]).filter(action=LogEntry.Action.UPDATE).first()
    assert entry.changes_dict["status"] == ["draft", "rejected"]


@pytest.mark.django_db(transaction=True)
def test_snapshot_action_freezes_membership_and_export_is_downloadable(
    client, curator, stub_broker, stub_worker
):
    examples = TrainingExampleFactory.create_batch(20, status="approved")
    TrainingExampleFactory(status="draft")
    url = reverse("admin:training_trainingexample_changelist")
    ids = [str(e.pk) for e in TrainingExample.objects.all()]
    response = client.post(
        url,
        {
            "action": "snapshot",
            "_selected_action": ids,
            "confirm": "yes",
            "name": "icons",
            "seed": "7",
            "validation": "0.1",
            "test": "0.1",
            "approved_only": "on",
        },
    )
    assert response.status_code == 302
    stub_broker.join("imports")
    stub_worker.join()
    dataset = Dataset.objects.get()
    assert dataset.record_count == 20 and dataset.version == 1 and dataset.status == "ready"
    assert dataset.split["counts"] == {"train": 16, "validation": 2, "test": 2}

    # Later edits to an example do not change the snapshot.
    examples[0].prompt = "edited after the snapshot"
    examples[0].save()
    assert not dataset.items.filter(prompt="edited after the snapshot").exists()

    download = client.get(reverse("admin:training_dataset_download", args=[dataset.pk]))
    body = b"".join(download.streaming_content)
    assert download.status_code == 200
    assert hashlib.md5(body, usedforsecurity=False).hexdigest() == dataset.export_md5
    rows = [json.loads(line) for line in body.splitlines()]
    assert len(rows) == 20 and {r["split"] for r in rows} == {"train", "validation", "test"}


def test_snapshot_split_and_hash_are_reproducible_from_the_seed():
    TrainingExampleFactory.create_batch(30, status="approved")
    qs = TrainingExample.objects.all()
    a = dataset_snapshot_create(name="a", examples=qs, seed=3, enqueue=False)
    b = dataset_snapshot_create(name="a", examples=qs, seed=3, enqueue=False)
    c = dataset_snapshot_create(name="a", examples=qs, seed=4, enqueue=False)
    assert (a.version, b.version, c.version) == (1, 2, 3)
    assert a.content_hash == b.content_hash != c.content_hash
    split = lambda d: dict(d.items.values_list("example_id", "split"))  # noqa: E731
    assert split(a) == split(b) != split(c)


def test_thumbnail_is_a_png_never_markup(client, curator):
    example = TrainingExampleFactory()
    response = client.get(reverse("admin:training_trainingexample_thumbnail", args=[example.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    changelist = client.get(reverse("admin:training_trainingexample_changelist")).content.decode()
    assert "<circle" not in changelist  # the design is shown as an image, not inline SVG


def _add_example(client, svg: str, prompt: str = "a hand-made circle"):
    return client.post(
        reverse("admin:training_trainingexample_add"),
        {
            "prompt": prompt,
            "svg_content": svg,
            "source_type": "manual",
            "status": "draft",
            "tags": "[]",
            "metadata": "{}",
        },
    )


def test_hand_made_example_is_sanitised_hashed_and_deduplicated(client, curator):
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
        '<circle cx="5" cy="5" r="4"/></svg>'
    )
    response = _add_example(client, svg)
    assert response.status_code == 302
    example = TrainingExample.objects.get()
    assert "onload" not in example.svg_content and len(example.content_hash) == 64
    again = _add_example(client, svg.replace('r="4"', 'r="4.000"'), prompt="same design")
    assert again.status_code == 200
    assert "already an example" in str(again.context["adminform"].form.errors["svg_content"])
    bad = _add_example(client, "<html><script>x</script></html>", prompt="not svg")
    assert bad.status_code == 200 and "svg_content" in bad.context["adminform"].form.errors
    assert TrainingExample.objects.count() == 1
