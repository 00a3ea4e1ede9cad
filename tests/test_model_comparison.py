"""Compare two model versions on a prompt set: both generate, the admin shows them side by side, rate in place."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from feedback.models import Feedback, ModelComparison
from feedback.services import model_comparison_create
from tests.api.conftest import FakeGenerator, run_jobs
from training.models import SLMModel

pytestmark = pytest.mark.django_db
PROMPTS = ["a large red circle at the top left", "two small blue squares at the center"]


def test_admin_action_generates_both_and_shows_them_side_by_side(client, superuser, monkeypatch):
    from generation import engine

    fake = FakeGenerator()
    monkeypatch.setattr(engine, "get_generator", lambda model: fake)
    a = SLMModel.objects.create(model_name="m", version=1, storage_path="x")
    b = SLMModel.objects.create(model_name="m", version=2, storage_path="y")
    response = client.post(
        reverse("admin:training_slmmodel_changelist"),
        {
            "action": "compare_designs",
            "_selected_action": [str(a.pk), str(b.pk)],
            "confirm": "yes",
            "prompts": "\n".join(PROMPTS),
            "count": "20",
            "seed": "3",
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    comparison = ModelComparison.objects.get()
    assert comparison.items.count() == 2
    assert {i.output_a.model_version_id for i in comparison.items.all()} == {a.pk}
    assert {i.output_b.model_version_id for i in comparison.items.all()} == {b.pk}
    run_jobs()
    page = client.get(reverse("admin:feedback_modelcomparison_change", args=[comparison.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and PROMPTS[0] in html and html.count('alt="design"') == 4
    item = comparison.items.first()
    image = client.get(
        reverse("admin:feedback_modelcomparison_image", args=[comparison.pk, item.output_a_id])
    )
    assert image["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")
    rate = client.post(
        reverse("admin:feedback_modelcomparison_rate", args=[comparison.pk, item.output_b_id]),
        {"rating": "4"},
    )
    assert rate.status_code == 302
    assert Feedback.objects.get().output_id == item.output_b_id
    bad = client.post(
        reverse("admin:feedback_modelcomparison_rate", args=[comparison.pk, item.output_b_id]),
        {"rating": "9"},
        follow=True,
    )
    assert "1 to 5" in bad.content.decode() and Feedback.objects.get().rating == 4


def test_same_version_twice_or_no_prompts_is_refused(superuser):
    a = SLMModel.objects.create(model_name="m", version=1, storage_path="x")
    b = SLMModel.objects.create(model_name="m", version=2, storage_path="y")
    with pytest.raises(ValidationError, match="two different"):
        model_comparison_create(model_a=a, model_b=a, prompts=PROMPTS, requested_by=superuser)
    with pytest.raises(ValidationError, match="at least one prompt"):
        model_comparison_create(model_a=a, model_b=b, prompts=["  "], requested_by=superuser)
    assert not ModelComparison.objects.exists()
