"""Training as Dramatiq jobs: a tiny model end to end, idempotent delivery, cancel, resume, aliases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from core.jobs.lifecycle import job_claim
from core.jobs.recovery import resend_lost_jobs
from core.roles import ML_STAFF
from slm.quality.verdict import learning_verdict
from tests.factories import UserFactory, synthetic_snapshot
from tests.shared_fixtures import tiny_params
from training.models import ModelAlias, SLMModel, TrainingMetric, TrainingRun
from training.services.registry import model_alias_move, model_alias_rollback
from training.services.runs import training_run_cancel, training_run_create
from training.tasks import train_model

TINY = tiny_params(max_steps=30, checkpoint_every=10)


@pytest.fixture
def dataset(db):
    return synthetic_snapshot(count=120)


@pytest.fixture
def ml_staff(roles):
    user = UserFactory(username="mlops", is_staff=True)
    user.groups.add(Group.objects.get(name=ML_STAFF))
    return user


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_tiny_model_trains_end_to_end_registers_and_promotes(dataset, ml_staff, stub_broker, stub_worker):
    # Trained for 30 steps it has not learned its set: production moves to it only with a reason.
    run = training_run_create(
        dataset=dataset,
        params=TINY,
        promote_to="production",
        promote_override_reason="a test model",
        requested_by=ml_staff,
    )
    stub_broker.join("training")
    stub_worker.join()
    run.refresh_from_db()
    assert run.status == "completed", run.error_message or list(run.events.values_list("message", flat=True))
    assert run.step == 30 and run.progress == 1.0 and run.attempts == 1
    losses = list(
        TrainingMetric.objects.filter(run=run, name="loss").order_by("step").values_list("value", flat=True)
    )
    assert len(losses) >= 2 and losses[-1] < losses[0]
    model = run.result_model
    assert model.version == 1 and model.dataset == dataset and model.parameter_count > 0
    assert {"val_loss", "validity_rate", "adherence_rate"} <= set(model.metrics)
    assert default_storage.exists(f"{model.storage_path}/MANIFEST.json")
    # Converted for CTranslate2 at registration (beside the weights), and evaluated as it will be served.
    assert default_storage.exists(f"{model.storage_path}/ct2/model.bin")
    assert model.metrics["engine"] == "ctranslate2" and model.metrics["compute_type"] == "float32"
    alias = ModelAlias.objects.get(name="production")
    assert alias.model_version == model
    assert learning_verdict(model.metrics).not_learned
    assert alias.events.get().override_reason == "a test model"
    messages = list(run.events.values_list("message", flat=True))
    assert any("Registered" in m for m in messages) and any("verdict overridden" in m for m in messages)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_second_delivery_does_not_train_twice(dataset, ml_staff, stub_broker, stub_worker):
    run = training_run_create(dataset=dataset, params=TINY, requested_by=ml_staff)
    train_model.send(str(run.pk))  # a duplicate of the message enqueued on commit
    stub_broker.join("training")
    stub_worker.join()
    run.refresh_from_db()
    assert run.status == "completed" and run.attempts == 1
    assert SLMModel.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_before_start_never_trains(dataset, ml_staff, stub_broker, stub_worker):
    run = training_run_create(dataset=dataset, params=TINY, requested_by=ml_staff)
    training_run_cancel(run=run, cancelled_by=ml_staff)
    stub_broker.join("training")
    stub_worker.join()
    run.refresh_from_db()
    assert run.status == "cancelled" and run.attempts == 0 and run.result_model is None
    with pytest.raises(ValidationError):
        training_run_cancel(run=run)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_cancel_while_running_stops_within_a_step_and_keeps_a_checkpoint(dataset, ml_staff, monkeypatch):
    from training.services import run_state, run_training

    params = {**TINY, "max_steps": 400, "checkpoint_every": 1000}
    run = training_run_create(dataset=dataset, params=params, requested_by=ml_staff)
    seen = []
    original = run_training._RunCallbacks.on_progress

    def on_progress(self, p):
        original(self, p)
        seen.append(p.step)
        if p.step >= 20:
            TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)

    monkeypatch.setattr(run_training._RunCallbacks, "on_progress", on_progress)
    train_model(str(run.pk))  # the actor, in this thread
    run.refresh_from_db()
    assert run.status == "cancelled"
    # Progress is reported every 10 steps; the flag was set at step 20 and checked before step 21.
    assert run.step <= 21 and max(seen) <= 21
    from slm.train.checkpoints import latest_checkpoint

    checkpoint = latest_checkpoint(run_state.run_dir(run))
    assert checkpoint is not None and checkpoint.name == f"step-{run.step:08d}"
    assert run.result_model is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint_and_continues_the_step_count(
    dataset, ml_staff, stub_broker, stub_worker
):
    from slm.train.loop import train
    from training.selectors import dataset_examples
    from training.services.run_state import run_dir

    run = training_run_create(dataset=dataset, params=TINY, requested_by=ml_staff)
    stub_broker.flush_all()  # the worker "dies" before its message is processed by anyone else
    assert job_claim(TrainingRun, run.pk) is not None
    # Train part of the way in the run's folder, as a worker would before being killed at step 20.
    from training.params import TrainingParams

    calls = {"n": 0}

    def die_at_20() -> bool:
        calls["n"] += 1
        return calls["n"] > 20

    train(
        TrainingParams.from_dict(TINY).train_config(),
        dataset_examples(dataset=dataset, split="train"),
        dataset_examples(dataset=dataset, split="validation"),
        run_dir(run),
        should_stop=die_at_20,
    )
    # The row still says running, with a heartbeat that has stopped.
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    counts = resend_lost_jobs(everything=False)
    assert counts["trainingrun"] == 1
    stub_broker.join("training")
    stub_worker.join()
    run.refresh_from_db()
    assert run.status == "completed" and run.attempts == 2 and run.step == 30
    finished = run.events.filter(message__startswith="Training finished").get()
    assert finished.data["resumed_from_step"] == 20 and finished.data["steps"] == 30
    assert run.events.filter(message__contains="resuming from the last checkpoint").exists()


def _model(name: str, version: int, dataset=None) -> SLMModel:
    return SLMModel.objects.create(model_name=name, version=version, dataset=dataset)


@pytest.mark.django_db
def test_alias_moves_keep_history_and_rollback_is_one_call(ml_staff):
    v1, v2 = _model("m", 1), _model("m", 2)
    model_alias_move(name="production", model_version=v1, moved_by=ml_staff)
    alias = model_alias_move(name="production", model_version=v2, moved_by=ml_staff, note="better")
    history = list(alias.events.order_by("created_at").values_list("from_version", "to_version", "moved_by"))
    assert history == [(None, v1.pk, ml_staff.pk), (v1.pk, v2.pk, ml_staff.pk)]
    alias = model_alias_rollback(alias=alias, moved_by=ml_staff)
    assert alias.model_version == v1 and alias.events.count() == 3


@pytest.mark.django_db
def test_only_ml_staff_may_move_production(roles):
    curator = UserFactory(username="notml")
    v1 = _model("m", 1)
    with pytest.raises(PermissionDenied):
        model_alias_move(name="production", model_version=v1, moved_by=curator)
    with pytest.raises(PermissionDenied):  # nor any other alias: that needs the alias permissions too
        model_alias_move(name="staging", model_version=v1, moved_by=curator)
    assert not ModelAlias.objects.exists()


@pytest.mark.django_db
def test_bad_training_params_are_field_errors(dataset, ml_staff):
    with pytest.raises(ValidationError) as err:
        training_run_create(
            dataset=dataset,
            params={"batch_size": 0, "n_embd": 30, "n_head": 4, "bogus": 1},
            requested_by=ml_staff,
        )
    assert {"batch_size", "n_head", "training_params"} <= set(err.value.message_dict)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_step_failing_after_training_fails_the_run_and_never_leaves_it_running(
    dataset, ml_staff, settings, tmp_path
):
    # Registration cannot store the artifacts (the media folder's parent is a file): a real failure in
    # the register step, after training and evaluation succeeded.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.MEDIA_ROOT = str(blocker / "media")
    settings.TRAIN_FROM_SHARDS = False  # the data from the database: the storage fails only at registration
    run = training_run_create(dataset=dataset, params=TINY, requested_by=ml_staff, enqueue=False)
    train_model(str(run.pk))  # the actor, in this thread
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None, run.status
    assert "Error" in run.error_message and run.result_model is None
    assert not SLMModel.objects.exists()  # nothing half-registered
    messages = list(run.events.values_list("message", flat=True))
    assert any(m.startswith("Training finished") for m in messages) and messages[-1] == run.error_message
