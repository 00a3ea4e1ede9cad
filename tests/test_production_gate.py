"""Production never moves silently to a version whose verdict is "not learned": the registry service,
the admin's action and the alias API refuse it; ML staff override it with a reason, kept in the history."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from core.roles import ML_STAFF
from tests.api.conftest import assert_field_error, client_for
from tests.factories import UserFactory
from training.models import ModelAlias, ModelAliasEvent, SLMModel
from training.services.registry import model_alias_move, model_alias_rollback

pytestmark = pytest.mark.django_db

LEARNED = {
    "iou": 0.49,
    "random_iou": 0.31,
    "retrieval_iou": 0.53,
    "train_iou": 0.73,
    "biou": 0.70,
    "random_biou": 0.60,
    "l2": 0.228,
    "blank_l2": 0.247,
}
# MDI's 600 s run: ink IoU clears random + 0.08 only, L2 is worse than drawing nothing.
BLOBS = {**LEARNED, "iou": 0.446, "random_iou": 0.365, "biou": 0.55, "l2": 0.295, "blank_l2": 0.268}


@pytest.fixture
def ml_staff(roles):
    user = UserFactory(username="mlops", is_staff=True)
    user.groups.add(Group.objects.get(name=ML_STAFF))
    return user


@pytest.fixture
def versions(db):
    good = SLMModel.objects.create(model_name="icons", version=1, metrics=LEARNED, storage_path="a")
    blobs = SLMModel.objects.create(model_name="icons", version=2, metrics=BLOBS, storage_path="b")
    return good, blobs


def test_the_service_refuses_a_version_not_learned_and_accepts_a_reason(ml_staff, versions):
    good, blobs = versions
    model_alias_move(name="production", model_version=good, moved_by=ml_staff)
    with pytest.raises(ValidationError) as err:
        model_alias_move(name="production", model_version=blobs, moved_by=ml_staff)
    message = " ".join(err.value.message_dict["override_reason"])
    assert "not learned" in message.lower() and "drawing nothing" in message and "reason" in message
    assert ModelAlias.objects.get(name="production").model_version == good
    assert ModelAliasEvent.objects.count() == 1

    model_alias_move(
        name="production", model_version=blobs, moved_by=ml_staff, override_reason="  A/B test for a week "
    )
    event = ModelAliasEvent.objects.order_by("-created_at").first()
    assert event.to_version == blobs and event.override_reason == "A/B test for a week"
    # Other aliases and learned versions need no reason; a blank reason is no reason.
    model_alias_move(name="staging", model_version=blobs, moved_by=ml_staff)
    assert ModelAliasEvent.objects.get(alias__name="staging").override_reason == ""
    model_alias_move(name="production", model_version=good, moved_by=ml_staff)
    with pytest.raises(ValidationError):
        model_alias_move(name="production", model_version=blobs, moved_by=ml_staff, override_reason="   ")


def test_rolling_production_back_to_a_version_not_learned_needs_a_reason_too(ml_staff, versions):
    good, blobs = versions
    model_alias_move(name="production", model_version=blobs, moved_by=ml_staff, override_reason="only one")
    alias = model_alias_move(name="production", model_version=good, moved_by=ml_staff)
    with pytest.raises(ValidationError):
        model_alias_rollback(alias=alias, moved_by=ml_staff)
    alias = model_alias_rollback(alias=alias, moved_by=ml_staff, override_reason="good one broke")
    assert alias.model_version == blobs


def test_versions_without_real_data_figures_are_not_gated(ml_staff):
    demo = SLMModel.objects.create(model_name="demo", version=1, metrics={"adherence_rate": 0.9})
    assert model_alias_move(name="production", model_version=demo, moved_by=ml_staff).model_version == demo


def test_the_api_answers_400_with_a_field_error_and_keeps_the_reason(ml_staff, versions):
    good, blobs = versions
    api = client_for(ml_staff)
    moved = api.put("/api/v1/aliases/production/", {"model": str(good.pk)}, format="json")
    assert moved.status_code == 200, moved.content
    assert moved.json()["model"] == str(good)

    refused = api.put("/api/v1/aliases/production/", {"model": "icons:2"}, format="json")
    assert_field_error(refused, "override_reason", "not learned", code="not_learned")
    assert ModelAlias.objects.get(name="production").model_version == good

    moved = api.put(
        "/api/v1/aliases/production/", {"model": "icons:2", "override_reason": "rollout test"}, format="json"
    )
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert body["model_version"] == str(blobs.pk) and body["history"][0]["override_reason"] == "rollout test"
    listed = api.get("/api/v1/aliases/").json()
    assert listed[0]["name"] == "production" and len(listed[0]["history"]) == 2

    assert_field_error(
        api.put("/api/v1/aliases/production/", {"model": "nope:9"}, format="json"),
        "model",
        code="unknown_model",
    )
    curator = UserFactory(username="cur")
    assert (
        client_for(curator)
        .put("/api/v1/aliases/production/", {"model": "icons:1"}, format="json")
        .status_code
        == 403
    )


def test_the_admin_action_refuses_without_a_reason_and_records_one(client, ml_staff, versions):
    good, blobs = versions
    client.force_login(ml_staff)
    url = "/admin/training/slmmodel/"
    form = {
        "action": "point_alias",
        "_selected_action": [str(blobs.pk)],
        "confirm": "1",
        "alias": "production",
    }
    page = client.post(url, {**form, "note": "", "override_reason": ""})
    assert page.status_code == 200
    text = page.content.decode()
    assert "has not learned its data set" in text and "drawing nothing" in text
    assert not ModelAlias.objects.filter(name="production").exists()

    page = client.post(url, {**form, "note": "", "override_reason": "the only icon model we have"})
    assert page.status_code == 302
    event = ModelAliasEvent.objects.get()
    assert event.to_version == blobs and event.override_reason == "the only icon model we have"
    history = client.get(f"/admin/training/modelalias/{event.alias.pk}/change/").content.decode()
    assert "the only icon model we have" in history


def test_the_version_page_says_not_learned_for_blobs(client, versions):
    good, blobs = versions
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/training/slmmodel/{blobs.pk}/change/").content.decode()
    assert "Not learned:" in page and "balanced IoU" in page and "drawing nothing" in page
    page = client.get(f"/admin/training/slmmodel/{good.pk}/change/").content.decode()
    assert "Draws better than a random training design" in page
    compare = client.post(
        "/admin/training/slmmodel/",
        {"action": "compare", "_selected_action": [str(good.pk), str(blobs.pk)]},
    ).content.decode()
    assert "random_biou" in compare and "biou" in compare
