"""Prompt templates: every edit is a new immutable version; labels move (and roll back); diffs are escaped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import PromptTemplate, PromptTemplateLabel
from catalog.services import prompt_template_create, prompt_template_label_rollback

pytestmark = pytest.mark.django_db


def _labels(template: PromptTemplate) -> dict[str, int]:
    return {lbl.name: lbl.version.version for lbl in PromptTemplateLabel.objects.filter(template=template)}


def test_admin_edit_creates_a_version_and_unchanged_content_does_not(client, superuser):
    empty_inline = {
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    add = client.post(
        reverse("admin:catalog_prompttemplate_add"),
        {"name": "badge", "category": "icon", "content": "a {{ colour }} badge", **empty_inline},
    )
    assert add.status_code == 302
    template = PromptTemplate.objects.get(name="badge")
    assert _labels(template) == {"latest": 1, "production": 1}
    url = reverse("admin:catalog_prompttemplate_change", args=[template.pk])
    base = {
        "name": "badge",
        "category": "icon",
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        "versions-0-id": str(template.versions.get().pk),
        "versions-0-template": str(template.pk),
    }
    client.post(url, {**base, "content": "a {{ colour }} badge"})
    assert template.versions.count() == 1
    response = client.post(url, {**base, "content": "a round {{ colour }} badge with {{ icon }}"})
    assert response.status_code == 302, response.content.decode()[:2000]
    v2 = template.versions.get(version=2)
    assert v2.variables == ["colour", "icon"]
    assert _labels(template) == {"latest": 2, "production": 1}  # production moves only by hand
    assert template.versions.get(version=1).content == "a {{ colour }} badge"  # immutable


def test_label_rollback_and_diff_page(client, superuser):
    template = prompt_template_create(name="t", content="first <b>line</b>", created_by=superuser)
    from catalog.services import prompt_template_label_move, prompt_template_version_create

    v2 = prompt_template_version_create(
        template=template, content="second <script>x</script>", created_by=superuser
    )
    label = prompt_template_label_move(template=template, name="production", version=v2, moved_by=superuser)
    assert _labels(template)["production"] == 2
    label = prompt_template_label_rollback(label=label, moved_by=superuser)
    assert _labels(template)["production"] == 1
    page = client.get(reverse("admin:catalog_prompttemplate_diff", args=[template.pk]) + "?a=1&b=2")
    body = page.content.decode()
    assert page.status_code == 200 and "&lt;script&gt;" in body and "<script>x</script>" not in body
    assert (
        client.get(reverse("admin:catalog_prompttemplate_diff", args=[template.pk]) + "?a=9").status_code
        == 404
    )
