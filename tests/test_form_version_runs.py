"""A new training run writes the current model-form version, even on a snapshot profiled before versions were
recorded (its stored form says version 1; the grid holds for every version)."""

from __future__ import annotations

import pytest

from slm.form.spec import FORM_VERSION, FormSpec
from tests.factories import synthetic_snapshot
from training.models import Dataset
from training.params import TrainingParams
from training.services.run_training import _form_for
from training.services.runs import training_run_create


@pytest.mark.django_db
def test_a_run_on_an_old_profile_writes_the_current_form_version() -> None:
    dataset = synthetic_snapshot(count=40)
    Dataset.objects.filter(pk=dataset.pk).update(
        profile={"form": {"kind": "model-form", "grid": 48, "view": 24.0}}
    )
    dataset.refresh_from_db()
    run = training_run_create(dataset=dataset, params={"max_steps": 1}, enqueue=False)
    form = _form_for(run=run, params=TrainingParams.from_dict({"max_steps": 1}), init_from=None)
    assert form == FormSpec(48, 24.0, version=FORM_VERSION) and FORM_VERSION == 2
