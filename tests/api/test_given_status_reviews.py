"""A status given outside the review queue is a review by the acting user: an import with
default_status approved or rejected, and a promotion from feedback as approved. The status follows from the
reviews under the example's policy (real imports, real generation, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from auditlog.models import LogEntry

from feedback.services import output_promote
from generation.models import DesignOutput
from tests.api.conftest import run_jobs
from tests.factories import UserFactory
from training.models import ImportBatch, Review, TrainingExample
from training.services.import_run import import_batch_run
from training.services.imports import import_batch_create
from training.services.reviews import review_policy_create, review_submit

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def run_import(name: str = "clean.csv", **kwargs) -> ImportBatch:
    path = FIXTURES / name
    batch = import_batch_create(
        source_name=path.name, source_path=str(path), format=path.suffix[1:], enqueue=False, **kwargs
    )
    return import_batch_run(batch_id=batch.pk)


def verdicts() -> list[tuple[str, str, str]]:
    return sorted(Review.objects.values_list("example__external_id", "reviewer__username", "verdict"))


@pytest.mark.parametrize(("status", "verdict"), [("approved", "accept"), ("rejected", "reject")])
def test_an_import_given_a_status_records_the_importers_review(status, verdict):
    curator = UserFactory(username="importer")
    batch = run_import(default_status=status, created_by=curator)
    assert batch.status == "completed" and batch.rows_created == 2
    assert verdicts() == [("t1", "importer", verdict), ("t2", "importer", verdict)]
    for example in TrainingExample.objects.all():
        assert example.status == status and example.reviewed_by == curator and example.reviewed_at
    assert all("import" in c for c in Review.objects.values_list("comment", flat=True))


def test_an_approved_import_into_a_queue_of_two_waits_for_the_second_accept():
    curator, second = UserFactory(username="importer"), UserFactory(username="second")
    policy = review_policy_create(name="two", reviews_needed=2, agreement="majority")
    run_import(default_status="approved", created_by=curator, review_policy=policy)
    example = TrainingExample.objects.get(external_id="t1")
    assert example.status == "draft"  # the importer's accept is one of the two reviews needed
    assert verdicts()[0] == ("t1", "importer", "accept")
    review_submit(example=example, reviewer=second, verdict="accept")
    example.refresh_from_db()
    assert example.status == "approved"


def test_a_draft_import_records_no_review_and_one_rolled_back_stores_none():
    curator = UserFactory(username="importer")
    run_import(default_status="draft", created_by=curator)
    assert Review.objects.count() == 0
    failed = run_import("mixed.jsonl", default_status="approved", created_by=curator)  # all or nothing
    assert failed.status == "failed" and Review.objects.count() == 0


def test_an_import_with_nobody_acting_sets_the_status_as_given():
    """The command line without --user: nobody to record a review for (README: curating)."""
    run_import(default_status="approved")
    assert Review.objects.count() == 0
    assert set(TrainingExample.objects.values_list("status", flat=True)) == {"approved"}


def test_a_promotion_as_approved_is_the_promoters_audited_review(api, model_version, fake_generator):
    curator = UserFactory(username="promoter", is_staff=True, is_superuser=True)
    api.post("/api/v1/generations/", {"text": "a red circle", "seed": 1}, format="json")
    run_jobs()
    output = DesignOutput.objects.get()
    [example] = output_promote(output=output, promoted_by=curator, status="approved")
    review = Review.objects.get(example=example)
    assert (review.reviewer, review.verdict) == (curator, "accept")
    assert example.status == "approved" and example.reviewed_by == curator
    assert LogEntry.objects.get_for_object(review).count() == 1  # through the audit trail


def test_a_promotion_as_draft_records_no_review(api, model_version, fake_generator):
    curator = UserFactory(username="promoter", is_staff=True, is_superuser=True)
    api.post("/api/v1/generations/", {"text": "a red circle", "seed": 1}, format="json")
    run_jobs()
    [example] = output_promote(output=DesignOutput.objects.get(), promoted_by=curator)
    assert example.status == "draft" and not Review.objects.exists()


def test_the_command_line_records_the_review_of_the_user_it_names():
    from django.core.management import CommandError, call_command

    UserFactory(username="cli.curator")
    call_command(
        "import_training_data", str(FIXTURES / "clean.csv"), "--status", "approved", "--user", "cli.curator"
    )
    assert verdicts() == [("t1", "cli.curator", "accept"), ("t2", "cli.curator", "accept")]
    with pytest.raises(CommandError, match="No user named"):
        call_command("import_training_data", str(FIXTURES / "clean.csv"), "--user", "nobody")
