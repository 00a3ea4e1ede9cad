"""Services on their own, for behaviour the API tests reach only through HTTP: creating a generation
request, failing one, a design's PNG on demand, an uploaded import, a rating, a snapshot's export job."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from core.jobs.lifecycle import job_claim
from core.jobs.models import JobStatus
from feedback.services import feedback_upsert
from generation.models import Conversation, DesignOutput, OutputImage, Prompt
from generation.services.conversations import conversation_create
from generation.services.jobs import generation_fail
from generation.services.renders import design_png_ensure
from generation.services.requests import generation_create
from tests.factories import SVG, StyleGuideFactory, TrainingExampleFactory, UserFactory
from training.models import Dataset, ImportBatch, ModelAlias, SLMModel, TrainingExample
from training.services.imports import import_upload_create
from training.services.snapshots import dataset_export, dataset_snapshot_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(username="maker")


@pytest.fixture
def production():
    model = SLMModel.objects.create(model_name="atelier-slm", version=1, storage_path="models/x")
    ModelAlias.objects.create(name="production", model_version=model)
    return model


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 9}, "count"),
        ({"temperature": 2.5}, "temperature"),
        ({"model": "nope"}, "model"),
        ({"text": ""}, "text"),
        ({"template_name": "missing"}, "template"),
        ({"style_guide_id": "00000000-0000-0000-0000-000000000000"}, "style_guide"),
    ],
)
def test_generation_create_refuses_with_a_field_error_and_stores_nothing(user, production, kwargs, field):
    with pytest.raises(ValidationError) as err:
        generation_create(user=user, **{"text": "a red circle", **kwargs})
    assert field in err.value.message_dict
    assert not Prompt.all_objects.exists() and not DesignOutput.objects.exists()


def test_generation_create_stores_a_pending_job_and_queues_it_after_commit(
    user, production, django_capture_on_commit_callbacks, stub_broker
):
    guide = StyleGuideFactory(is_published=True, style_rules={"palette": ["#1e88e5"]})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = generation_create(user=user, text="a circle", style_guide_id=guide.pk, count=2, seed=3)
    assert len(callbacks) == 1 and stub_broker.queues["generation"].qsize() == 1
    assert output.status == JobStatus.PENDING and output.model_version == production
    assert output.requested_count == 2 and output.temperature > 0  # several designs need sampling
    prompt = output.prompt
    assert prompt.metadata["palette"] == {"source": "style_guide", "colours": ["#1e88e5"]}
    assert prompt.metadata["context"].startswith(f"style {guide.guide_name.lower()}")


def test_a_conversation_carries_its_style_guide_to_the_next_request(user, production):
    guide = StyleGuideFactory(is_published=True, style_rules={"palette": ["#43a047"]})
    conversation = conversation_create(user=user, title="ideas")
    generation_create(user=user, text="one", style_guide_id=guide.pk, conversation_id=conversation.pk)
    second = generation_create(user=user, text="two", conversation_id=conversation.pk)
    assert second.prompt.style_guide == guide
    assert second.prompt.metadata["carried_from_conversation"] == ["style_guide"]
    assert Conversation.objects.get(pk=conversation.pk).total_messages == 2


def test_generation_fail_keeps_its_message_and_details_and_mirrors_the_prompt(user, production):
    from generation.tasks import generate  # noqa: F401 - declares the kind whose prompt mirrors its status

    output = generation_create(user=user, text="x")
    claimed = job_claim(DesignOutput, output.pk)
    generation_fail(claimed, "The model produced no usable design.", candidates_tried=2)
    row = DesignOutput.objects.get(pk=output.pk)
    assert row.status == JobStatus.FAILED and row.error_message == "The model produced no usable design."
    assert row.design_metadata["candidates_tried"] == 2 and "failed_at" in row.design_metadata
    assert Prompt.all_objects.get(pk=row.prompt_id).status == JobStatus.FAILED


def test_a_designs_png_is_rendered_once_on_demand(user, production):
    output = generation_create(user=user, text="x")
    DesignOutput.objects.filter(pk=output.pk).update(status=JobStatus.COMPLETED)
    svg = OutputImage(output=output, file_type="svg", sequence_order=0)
    svg.file.save("design.svg", ContentFile(SVG.format(r=20).encode()), save=True)
    first = design_png_ensure(output=output, sequence_order=0)
    assert first is not None and first.file_type == "png" and first.file.read().startswith(b"\x89PNG")
    assert design_png_ensure(output=output, sequence_order=0).pk == first.pk
    assert design_png_ensure(output=output, sequence_order=1) is None  # no such design


def test_an_uploaded_file_is_stored_and_queued_as_an_import(user, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("rows.ndjson", b'{"prompt": "p", "svg": "<svg/>"}\n')
    with django_capture_on_commit_callbacks() as callbacks:
        batch = import_upload_create(
            uploaded=upload, mode="skip_invalid", dry_run=True, default_status="draft", created_by=user
        )
    assert batch.format == "jsonl" and batch.source_name == "rows.ndjson" and batch.dry_run
    assert batch.source_path.startswith("imports/") and batch.status == JobStatus.PENDING
    assert len(callbacks) == 1
    assert ImportBatch.objects.get(pk=batch.pk).created_by == user


def test_ratings_are_for_completed_designs_of_their_owner(user, production):
    output = generation_create(user=user, text="x")
    with pytest.raises(ValidationError):
        feedback_upsert(output=output, user=user, rating=5)
    DesignOutput.objects.filter(pk=output.pk).update(status=JobStatus.COMPLETED)
    output.refresh_from_db()
    with pytest.raises(PermissionDenied):
        feedback_upsert(output=output, user=UserFactory(username="stranger"), rating=5)
    first = feedback_upsert(output=output, user=user, rating=2)
    again = feedback_upsert(output=output, user=user, rating=4, comments="better")
    assert again.pk == first.pk and again.rating == 4


def test_a_snapshot_exports_through_its_own_job():
    for _ in range(3):
        TrainingExampleFactory(status="approved")
    snapshot = dataset_snapshot_create(name="s", examples=TrainingExample.objects.all(), enqueue=False)
    assert snapshot.status == Dataset.Status.PROCESSING
    assert snapshot.export_job.status == JobStatus.PENDING
    ready = dataset_export(dataset_id=snapshot.pk)
    assert ready.status == Dataset.Status.READY and ready.export_md5 and ready.record_count == 3
    job = ready.export_job
    assert job.status == JobStatus.COMPLETED and job.attempts == 1 and job.finished_at is not None
