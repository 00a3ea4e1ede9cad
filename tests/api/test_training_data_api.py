"""Imports and snapshots through the API: curators only, same services and reports as the admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from core.roles import CURATORS
from tests.api.conftest import assert_field_error, client_for
from tests.factories import TrainingExampleFactory, UserFactory
from training.models import Dataset, ImportBatch, TrainingExample

pytestmark = pytest.mark.django_db
CSV = Path(__file__).resolve().parents[1] / "fixtures" / "imports" / "clean.csv"


@pytest.fixture
def curator(roles):
    user = UserFactory(username="cur-api")
    user.groups.add(Group.objects.get(name=CURATORS))
    return client_for(user)


def test_dry_run_then_import_through_the_api(curator, django_capture_on_commit_callbacks):
    from training.tasks import run_import

    upload = SimpleUploadedFile("clean.csv", CSV.read_bytes(), content_type="text/csv")
    response = curator.post("/api/v1/imports/", {"file": upload, "dry_run": "true"}, format="multipart")
    assert response.status_code == 202, response.json()
    batch_id = response.json()["id"]
    run_import(batch_id)  # what the worker does
    report = curator.get(f"/api/v1/imports/{batch_id}/").json()
    assert report["status"] == "completed" and report["report"]["counts"]["created"] == 2
    assert TrainingExample.objects.count() == 0
    upload = SimpleUploadedFile("clean.csv", CSV.read_bytes(), content_type="text/csv")
    real = curator.post(
        "/api/v1/imports/",
        {"file": upload, "dry_run": "false", "default_status": "approved"},
        format="multipart",
    ).json()
    run_import(real["id"])
    assert TrainingExample.objects.filter(status="approved").count() == 2
    snapshot = curator.post("/api/v1/datasets/", {"name": "api-snap", "seed": 2}, format="json")
    assert snapshot.status_code == 201, snapshot.json()
    assert snapshot.json()["record_count"] == 2 and snapshot.json()["version"] == 1


def test_bad_upload_and_empty_selection_are_field_errors(curator):
    bad = curator.post("/api/v1/imports/", {"file": SimpleUploadedFile("x.txt", b"hi")}, format="multipart")
    assert_field_error(bad, "file", "Upload a .jsonl, .csv or .zip file.")
    empty = curator.post("/api/v1/datasets/", {"name": "nothing", "status": "rejected"}, format="json")
    assert_field_error(empty, "examples", "A snapshot needs at least one example.", "empty_snapshot")
    assert not ImportBatch.objects.exists() and not Dataset.objects.exists()


def test_api_consumers_cannot_import_or_snapshot(owner):
    TrainingExampleFactory(status="approved")
    consumer = client_for(owner)
    upload = SimpleUploadedFile("clean.csv", CSV.read_bytes(), content_type="text/csv")
    assert consumer.post("/api/v1/imports/", {"file": upload}, format="multipart").status_code == 403
    assert consumer.post("/api/v1/datasets/", {"name": "x"}, format="json").status_code == 403
    assert consumer.get("/api/v1/imports/").status_code == 403
