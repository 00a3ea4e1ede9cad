"""Close the loop: generate, rate, promote, snapshot, train; lineage shows the promoted example and its feedback."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from core.roles import ML_STAFF
from feedback.models import Feedback, Promotion
from feedback.selectors import feedback_aggregates
from feedback.services import feedback_upsert, output_promote, preference_pairs, promotion_candidates
from generation.models import DesignOutput
from slm.synthetic import generate_corpus
from tests.factories import TrainingExampleFactory, UserFactory
from tests.shared_fixtures import tiny_params
from training.models import TrainingExample
from training.selectors import model_lineage

TINY = tiny_params(max_steps=12, checkpoint_every=100)
GOOD_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><circle cx="16" cy="16" r="12" fill="#e53935"/></svg>'


@dataclass
class _Sample:
    text: str
    tokens: int = 20


class _FixedGenerator:
    """Model output for the generation step: a tiny model trained for seconds draws noise, not designs."""

    def __init__(self, svgs: list[str]) -> None:
        self.svgs = svgs

    def generate(self, prompts, n=1, seed=0, temperature=0.0, max_new_tokens=256, context=None, **kw):
        return [[_Sample(self.svgs[i % len(self.svgs)]) for i in range(n)] for _ in prompts]


def _train(dataset, user, **extra):
    from training.services.runs import training_run_create
    from training.tasks import train_model

    run = training_run_create(dataset=dataset, params=TINY, requested_by=user, **extra)
    train_model(str(run.pk))  # the actor, in this thread
    run.refresh_from_db()
    return run


def _generate(user, text: str, monkeypatch, svgs: list[str]) -> DesignOutput:
    from generation import engine
    from generation.services.requests import generation_create
    from generation.tasks import generate

    monkeypatch.setattr(engine, "get_generator", lambda model: _FixedGenerator(svgs))
    output = generation_create(user=user, text=text, count=1)
    generate(str(output.pk))  # the actor, in this thread
    output.refresh_from_db()
    assert output.status == "completed", output.error_message
    return output


@pytest.fixture
def world(roles, django_capture_on_commit_callbacks):
    from training.services.snapshots import dataset_export, dataset_snapshot_create

    ml = UserFactory(username="ml", is_staff=True)
    ml.groups.add(Group.objects.get(name=ML_STAFF))
    for ex in generate_corpus(60, seed=3, unique=True):
        TrainingExampleFactory(prompt=ex.prompt, svg_content=ex.svg, status="approved")
    base = dataset_snapshot_create(name="base", examples=TrainingExample.objects.all(), seed=0, enqueue=False)
    base = dataset_export(dataset_id=base.pk)
    # Trained for seconds, it has not learned its set: production moves to it only with a reason.
    run = _train(base, ml, promote_to="production", promote_override_reason="a test model")
    assert run.status == "completed", run.error_message
    return {"ml": ml, "model": run.result_model}


@pytest.mark.django_db
@pytest.mark.slow
def test_generate_rate_promote_snapshot_train_and_lineage(world, monkeypatch):
    from training.services.snapshots import dataset_export, dataset_snapshot_create

    consumer = UserFactory(username="consumer")
    output = _generate(consumer, "a large red circle at the top left", monkeypatch, [GOOD_SVG])
    assert output.model_version == world["model"]
    feedback = feedback_upsert(output=output, user=consumer, rating=5, comments="exactly right")

    curator = UserFactory(username="curator2", is_staff=True, is_superuser=True)
    [example] = output_promote(output=output, promoted_by=curator, status="approved")
    assert example.source_type == "feedback" and example.prompt == "a large red circle at the top left"
    promotion = Promotion.objects.get(example=example)
    assert (promotion.output, promotion.feedback, promotion.model_version) == (
        output,
        feedback,
        world["model"],
    )

    snapshot = dataset_snapshot_create(
        name="with-feedback", examples=TrainingExample.objects.all(), seed=1, enqueue=False
    )
    snapshot = dataset_export(dataset_id=snapshot.pk)
    run = _train(snapshot, world["ml"], base_model=world["model"])
    assert run.status == "completed", run.error_message
    new_model = run.result_model
    assert new_model.base_model == world["model"] and new_model.training_strategy == "fine_tune"

    lineage = model_lineage(model=new_model)
    assert lineage["run"] == run and lineage["dataset"] == snapshot
    assert lineage["chain"] == [new_model, world["model"]]
    [promoted] = lineage["promoted"]
    assert promoted["example"] == example and promoted["feedback"] == feedback
    assert {s["example__source_type"] for s in lineage["sources"]} == {"feedback", "manual"}

    # And the admin's version page shows it.
    from django.test import Client

    client = Client()
    client.force_login(curator)
    page = client.get(reverse("admin:training_slmmodel_change", args=[new_model.pk])).content.decode()
    assert "Promoted from feedback" in page and "exactly right" in page and "5★" in page


@pytest.mark.django_db
def test_bad_feedback_and_promotion_input_changes_nothing(world, monkeypatch):
    consumer, other = UserFactory(username="c1"), UserFactory(username="c2")
    output = _generate(consumer, "a small blue square at the center", monkeypatch, [GOOD_SVG])
    for bad in (0, 6, 3.5, True):
        with pytest.raises(ValidationError, match="1 to 5"):
            feedback_upsert(output=output, user=consumer, rating=bad)
    with pytest.raises(PermissionDenied):
        feedback_upsert(output=output, user=other, rating=4)
    assert not Feedback.objects.exists()

    failed = _generate(consumer, "a tiny green star at the bottom", monkeypatch, [GOOD_SVG])
    DesignOutput.objects.filter(pk=failed.pk).update(status="failed")
    failed.refresh_from_db()
    with pytest.raises(ValidationError, match="completed"):
        output_promote(output=failed, promoted_by=consumer)
    before = TrainingExample.objects.count()
    output_promote(output=output, promoted_by=consumer)
    with pytest.raises(ValidationError, match="already in the training data"):
        output_promote(output=output, promoted_by=consumer)
    assert TrainingExample.objects.count() == before + 1


@pytest.mark.django_db
def test_one_rating_per_user_editable_aggregates_candidates_and_pairs(world, monkeypatch):
    a = UserFactory(username="ra")
    liked = _generate(a, "a large red circle at the top left", monkeypatch, [GOOD_SVG])
    disliked = _generate(
        a, "a large red circle at the top left", monkeypatch, [GOOD_SVG.replace("#e53935", "#1e88e5")]
    )
    feedback_upsert(output=liked, user=a, rating=3)
    feedback_upsert(output=liked, user=a, rating=5)  # the author edits their rating
    assert Feedback.objects.filter(output=liked, user=a).get().rating == 5
    staff = UserFactory(username="rs", is_staff=True)
    feedback_upsert(output=liked, user=staff, rating=4)
    feedback_upsert(output=disliked, user=a, rating=1)

    [per_model] = feedback_aggregates(by="model_version")
    assert per_model["count"] == 3 and per_model["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}
    candidates = promotion_candidates()
    assert [(c["output"].pk, c["eligible"]) for c in candidates] == [(liked.pk, True)]
    [pair] = list(preference_pairs())
    assert pair["chosen_output"] == str(liked.pk) and pair["rejected_output"] == str(disliked.pk)
    assert "#1e88e5" in pair["rejected"] and "#e53935" in pair["chosen"]
