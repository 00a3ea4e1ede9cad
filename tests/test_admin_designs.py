"""Designs you can see in the admin: PNG thumbnails (never SVG markup), every design on its output's page,
links to where a design came from, and JSON fields as a readable tree."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.urls import reverse

from core.admin_json import ReadableJSONWidget, json_html
from core.roles import CURATORS
from generation.models import OutputImage
from tests.factories import UserFactory, make_graph

pytestmark = pytest.mark.django_db


def test_design_changelists_show_png_thumbnails_not_svg(client, superuser):
    output = make_graph(0, user=superuser)["output"]
    for url in (
        reverse("admin:generation_designoutput_changelist"),
        reverse("admin:generation_outputimage_changelist"),
    ):
        html = client.get(url).content.decode()
        thumbs = re.findall(r'<img class="design-thumb" src="([^"]+)"', html)
        assert thumbs, url
        assert "<circle" not in html, "no design markup on an admin page"
        png = client.get(thumbs[0])
        assert (
            png.status_code == 200
            and png["Content-Type"] == "image/png"
            and png.content.startswith(b"\x89PNG")
        )
    stored = OutputImage.objects.create(
        output=output,
        file=ContentFile(b"\x89PNG\r\n\x1a\nstored", name="x.png"),
        file_type="png",
        sequence_order=0,
    )
    body = client.get(reverse("admin:generation_outputimage_thumbnail", args=[stored.pk])).content
    assert body == b"\x89PNG\r\n\x1a\nstored", "a stored PNG is served as it is"


def test_design_output_page_shows_every_design_and_links_to_its_sources(client, superuser):
    output = make_graph(0, user=superuser)["output"]
    OutputImage.objects.create(
        output=output,
        file=ContentFile(
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="4" height="4"/></svg>',
            name="y.svg",
        ),
        file_type="svg",
        sequence_order=1,
    )
    output.design_metadata = {"seed": 3, "timings_ms": {"generate": 12}}
    output.save()
    html = client.get(reverse("admin:generation_designoutput_change", args=[output.pk])).content.decode()
    assert html.count('alt="design #') == 2
    assert reverse("admin:generation_prompt_change", args=[output.prompt_id]) in html
    assert f"/admin/generation/apirequest/?prompt__id__exact={output.prompt_id}" in html
    assert reverse("admin:training_slmmodel_change", args=[output.model_version_id]) in html
    assert f"/admin/feedback/feedback/?output__id__exact={output.pk}" in html
    assert '<span class="json-key">timings_ms</span>' in html and '<span class="json-num">12</span>' in html
    for link in (
        f"/admin/generation/apirequest/?prompt__id__exact={output.prompt_id}",
        f"/admin/feedback/feedback/?output__id__exact={output.pk}",
    ):
        assert client.get(link).status_code == 200


def test_curators_get_no_link_to_the_request_log_they_cannot_read(client, roles):
    curator = UserFactory(username="cora", is_staff=True)
    curator.groups.add(Group.objects.get(name=CURATORS))
    client.force_login(curator)
    output = make_graph(0)["output"]
    html = client.get(reverse("admin:generation_designoutput_change", args=[output.pk])).content.decode()
    assert (
        "apirequest" not in html
        and reverse("admin:generation_prompt_change", args=[output.prompt_id]) in html
    )


def test_json_tree_escapes_keys_and_values_and_folds_deep_levels():
    html = str(
        json_html({"<b>k</b>": ["<script>x</script>", 1.5, True, None], "deep": {"a": {"b": {"c": 1}}}})
    )
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;k&lt;/b&gt;" in html
    assert (
        html.count("<details open>") == 3 and html.count("<details>") == 2
    )  # two levels open, deeper folded
    assert '<span class="json-bool">true</span>' in html and '<span class="json-null">null</span>' in html


def test_editable_json_is_indented_and_invalid_text_is_shown_as_typed():
    widget = ReadableJSONWidget()
    assert '{\n  "palette": [\n    "#e53935"\n  ]\n}' in widget.render(
        "style_rules", '{"palette": ["#e53935"]}'
    ).replace("&quot;", '"')
    assert "{not json" in widget.render("style_rules", "{not json")


def test_readonly_json_fields_are_readable_on_any_admin_page(client, superuser):
    graph = make_graph(0, user=superuser)
    from generation.models import ApiRequest

    row = ApiRequest.objects.get(prompt=graph["prompt"])
    row.request_payload = {"body": {"text": "a red circle", "count": 2}}
    row.save()
    html = client.get(reverse("admin:generation_apirequest_change", args=[row.pk])).content.decode()
    assert '<span class="json-key">count</span>' in html
