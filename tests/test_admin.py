"""Every registered model's admin pages answer, and each changelist runs a constant number of queries."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin import ReadOnlyAdmin
from core.roles import CURATORS, ML_STAFF
from tests.factories import UserFactory, make_graph

pytestmark = pytest.mark.django_db

ADD_REDIRECTS = {"training.Dataset", "training.ImportBatch"}
REGISTERED = sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)
IDS = [m._meta.label for m, _ in REGISTERED]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_changelist_query_count_is_constant(client, superuser, model, model_admin):
    make_graph(0, user=superuser)
    url = _url(model, "changelist")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(1, 5):
        make_graph(i)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    shown = response.context["cl"].result_count
    assert shown >= 1
    assert len(many) == len(few), (
        f"{model._meta.label}: {len(few)} queries with 1 graph, {len(many)} with 5 "
        + "\n".join(q["sql"][:200] for q in many.captured_queries)
    )


def test_examples_changelist_with_the_word_search_runs_a_constant_number_of_queries(client, superuser):
    """The word search ranks with subqueries of the one changelist query (training/selectors_search.py)."""
    from training.models import TrainingExample

    make_graph(0, user=superuser)
    url = _url(TrainingExample, "changelist") + "?q=red+circle"
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(1, 5):
        make_graph(i)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["cl"].result_list) >= 5  # every graph's examples match
    assert len(many) == len(few), "\n".join(q["sql"][:200] for q in many.captured_queries)


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_add_change_search_pages_answer(client, superuser, model, model_admin):
    make_graph(0, user=superuser)
    assert client.get(_url(model, "changelist") + "?q=red").status_code == 200
    add = client.get(_url(model, "add"))
    if isinstance(model_admin, ReadOnlyAdmin) or not model_admin.has_add_permission(add.wsgi_request):
        assert add.status_code == 403
    elif model._meta.label in ADD_REDIRECTS:
        # Imports and snapshots are made through their own flows; "add" leads there.
        assert add.status_code == 302
        assert client.get(add["Location"]).status_code == 200
    else:
        assert add.status_code == 200
    obj = model_admin.get_queryset(add.wsgi_request).first()
    assert obj is not None, f"make_graph made no {model._meta.label}"
    assert client.get(_url(model, "change", obj.pk)).status_code == 200


def test_curator_role_sees_catalog_and_training_data_but_not_the_request_log(client, roles):
    curator = UserFactory(username="cora", is_staff=True)
    curator.groups.add(Group.objects.get(name=CURATORS))
    client.force_login(curator)
    make_graph(0)
    for label in [
        "catalog.StyleGuide",
        "catalog.DesignPattern",
        "catalog.PromptTemplate",
        "training.TrainingExample",
    ]:
        model = next(m for m in admin.site._registry if m._meta.label == label)
        assert client.get(_url(model, "changelist")).status_code == 200
        assert client.get(_url(model, "add")).status_code == 200
    from generation.models import ApiRequest
    from training.models import ModelAlias

    assert client.get(_url(ApiRequest, "changelist")).status_code == 403
    assert client.get(_url(ModelAlias, "add")).status_code == 403


def test_only_ml_staff_can_move_production(roles):
    assert Group.objects.get(name=ML_STAFF).permissions.filter(codename="move_production_alias").exists()
    assert not Group.objects.get(name=CURATORS).permissions.filter(codename="move_production_alias").exists()


def test_bad_style_rules_give_field_errors_not_500(client, superuser):
    from catalog.models import StyleGuide

    response = client.post(
        _url(StyleGuide, "add"),
        {
            "guide_name": "Bad",
            "category": "icon",
            "style_rules": '{"palette": ["red"], "line_cap": "zigzag"}',
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "style_rules" in errors
    assert "palette/0" in str(errors["style_rules"]) and "line_cap" in str(errors["style_rules"])
    assert not StyleGuide.all_objects.filter(guide_name="Bad").exists()


def test_invalid_json_in_admin_form_is_a_field_error(client, superuser):
    from catalog.models import DesignPattern

    response = client.post(
        _url(DesignPattern, "add"),
        {"pattern_name": "P", "pattern_type": "badge", "pattern_config": "{not json"},
    )
    assert response.status_code == 200
    assert "pattern_config" in response.context["adminform"].form.errors
