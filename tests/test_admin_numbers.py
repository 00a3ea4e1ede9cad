"""An admin that reads like a product: numbers formatted for people on the runs and models changelists,
the run page and the model page (full precision in a tooltip and in the JSON), evaluations labelled with
the data they were measured on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.humanize import duration, measure
from tests.factories import UserFactory
from training.models import Dataset, SLMModel, TrainingRun

pytestmark = pytest.mark.django_db

METRICS = {
    "eval_prompts": 200,
    "val_loss": 0.987654321987,
    "iou": 0.4123456789,
    "random_iou": 0.2012345678,
    "adherence_rate": 0.9912345,  # the synthetic grammar's prompts: the demo's evaluation
}


@pytest.fixture
def rows(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True, first_name="Ada")
    client.force_login(user)
    dataset = Dataset.objects.create(name="demo", version=1, status="ready")
    model = SLMModel.objects.create(
        model_name="atelier-slm", version=1, dataset=dataset, parameter_count=1234567, metrics=METRICS
    )
    run = TrainingRun.objects.create(
        dataset=dataset,
        model_name="atelier-slm",
        status="completed",
        step=12345,
        total_steps=12345,
        loss=0.123456789123,
        tokens_per_second=45678.91,
        eta_seconds=754.2,
        result_model=model,
        requested_by=user,
    )
    return run, model


def test_changelists_show_counts_with_separators_and_losses_to_4_figures(client, rows):
    html = client.get(reverse("admin:training_trainingrun_changelist")).content.decode()
    assert "12,345" in html and "0.1235" in html and "45,679" in html
    assert "0.123456789" not in html and "45678.91" not in html
    html = client.get(reverse("admin:training_slmmodel_changelist")).content.decode()
    assert "1,234,567" in html and "1234567<" not in html


def test_the_run_page_formats_numbers_and_keeps_the_full_value_in_a_tooltip(client, rows):
    run, _ = rows
    html = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    assert '<span title="0.123456789123">0.1235</span>' in html
    assert '<span title="754.2">12.6 min</span>' in html and "45,679" in html and "12,345" in html
    assert "Evaluated on 200 held-out prompts of the synthetic grammar" in html
    assert "evaluation on real data" not in html.lower()


def test_the_model_page_shows_metrics_to_4_figures_with_the_full_value_in_a_tooltip(client, rows):
    _, model = rows
    html = client.get(reverse("admin:training_slmmodel_change", args=[model.pk])).content.decode()
    assert '<span class="json-num" title="0.987654321987">0.9877</span>' in html
    assert "1,234,567" in html
    assert "Evaluated on 200 held-out prompts of the synthetic grammar" in html
    model.metrics = {k: v for k, v in METRICS.items() if k != "adherence_rate"}
    model.save()
    html = client.get(reverse("admin:training_slmmodel_change", args=[model.pk])).content.decode()
    assert "Evaluated on 200 held-out designs of the training snapshot (real data)" in html


def test_numbers_for_people():
    assert [measure(0.123456789), measure(1234.5678), measure(3.14159), measure(7)] == [
        "0.1235",
        "1,235",
        "3.142",
        "7",
    ]
    assert [duration(4.25), duration(42.3), duration(754.2), duration(10_000)] == [
        "4.2 s",
        "42 s",
        "12.6 min",
        "2.8 h",
    ]
