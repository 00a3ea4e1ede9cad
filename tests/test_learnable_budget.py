"""Before training, the train form and train_icon_model say when a snapshot cannot be learned in the
budget, with the budget the estimate says it needs (slm.learnable)."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory, synthetic_snapshot
from training.forms import TrainForm
from training.models import TrainingRun
from training.services.profiles import dataset_budget_estimate, dataset_recipe

pytestmark = pytest.mark.django_db


def _post(client, dataset, **values):
    recipe = dataset_recipe(dataset=dataset).values
    form = TrainForm(recipe=recipe)
    data = {n: form.fields[n].initial for n in TrainForm.PARAM_FIELDS}
    data = {k: v for k, v in data.items() if v is not None}
    data.update(model_name="m", promote_to="", promote_override_reason="", **values)
    return client.post(
        "/admin/training/dataset/",
        {"action": "train", "_selected_action": [str(dataset.pk)], "confirm": "1", **data},
    )


def test_the_train_form_says_a_budget_is_too_short_before_training(client):
    dataset = synthetic_snapshot(count=60)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    needed = dataset_budget_estimate(dataset=dataset).needed_seconds
    assert needed > 1

    page = client.get("/admin/training/dataset/")  # the list works; the form page shows the estimate
    form_page = client.post(
        "/admin/training/dataset/", {"action": "train", "_selected_action": [str(dataset.pk)]}
    )
    assert (
        "is estimated to take" in form_page.content.decode()
        or "should be enough" in form_page.content.decode()
    )
    assert page.status_code == 200

    refused = _post(client, dataset, budget_seconds=1).content.decode()
    assert "This set cannot be learned in 1 s" in refused and f"about {needed:,} s" in refused
    assert "passes" in refused and "tokens/s" in refused
    assert not TrainingRun.objects.exists()

    accepted = _post(client, dataset, budget_seconds=1, train_anyway="on")
    assert accepted.status_code == 302 and TrainingRun.objects.count() == 1
    assert _post(client, dataset, budget_seconds=needed).status_code == 302


def test_the_estimate_uses_throughput_measured_on_finished_runs_of_the_same_size(client):
    dataset = synthetic_snapshot(count=60)
    recipe = dataset_recipe(dataset=dataset).values
    before = dataset_budget_estimate(dataset=dataset)
    TrainingRun.objects.create(
        dataset=dataset,
        status="completed",
        tokens_per_second=before.tokens_per_second * 4,
        training_params={"n_layer": recipe["n_layer"], "n_embd": recipe["n_embd"]},
    )
    after = dataset_budget_estimate(dataset=dataset)
    assert after.tokens_per_second == before.tokens_per_second * 4
    assert after.needed_seconds < before.needed_seconds and "finished run" in after.message()
