"""Style guides check designs and condition the model; patterns expand into linked examples."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalog.demo import DEMO_STYLE_GUIDES
from catalog.style import check_compliance, conditioning_text
from tests.factories import DesignPatternFactory, StyleGuideFactory, TrainingExampleFactory
from training.models import TrainingExample
from training.services.patterns import design_pattern_expand

# The demo's Lucide-like outline guide: black, 2 px round strokes, no fills, a 24 px viewBox.
OUTLINE = next(g["style_rules"] for g in DEMO_STYLE_GUIDES if g["guide_name"] == "Lucide outline")
LUCIDE_LIKE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="12" cy="12" r="8"/></svg>'
)


def test_compliant_icon_passes():
    assert check_compliance(LUCIDE_LIKE, OUTLINE).ok


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('stroke="currentColor"', 'stroke="#ff0000"'), "colour #ff0000 is not in the palette"),
        (('stroke-width="2"', 'stroke-width="3"'), "stroke-width 3 is outside 2–2"),
        (('stroke-linecap="round"', 'stroke-linecap="butt"'), "line caps butt"),
        (('fill="none"', 'fill="#000000"'), "filled shapes"),
        (('viewBox="0 0 24 24"', 'viewBox="0 0 48 48"'), "viewBox 0 0 48 48"),
    ],
)
def test_each_rule_violation_is_named(change, expected):
    result = check_compliance(LUCIDE_LIKE.replace(*change), OUTLINE)
    assert not result.ok
    assert any(expected in v for v in result.violations), result.violations


def test_conditioning_text_carries_the_rules():
    guide = StyleGuideFactory.build(guide_name="Lucide outline", style_rules=OUTLINE)
    text = conditioning_text(guide)
    assert text.startswith("style lucide outline")
    for part in ("palette #000000", "stroke 2", "caps round", "mode outline", "viewbox 0 0 24 24"):
        assert part in text


@pytest.mark.django_db
def test_pattern_expansion_creates_linked_examples_and_skips_repeats():
    pattern = DesignPatternFactory(
        pattern_config={
            "template": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="{size}" fill="{colour}"/></svg>',
            "prompt": "a {colour_name} dot of size {size}",
            "slots": {"size": [8, 16, 24], "colour": ["#e53935", "#1e88e5"]},
        }
    )
    result = design_pattern_expand(pattern=pattern, values={"size": [8, 16]})
    assert result == {"created": 4, "duplicates": 0, "invalid": []}
    examples = TrainingExample.objects.filter(design_pattern=pattern)
    assert set(examples.values_list("prompt", flat=True)) == {
        "a red dot of size 8",
        "a red dot of size 16",
        "a blue dot of size 8",
        "a blue dot of size 16",
    }
    assert all(e.source_type == "pattern" and e.style_guide == pattern.style_guide for e in examples)
    again = design_pattern_expand(pattern=pattern)
    assert again["created"] == 2 and again["duplicates"] == 4
    with pytest.raises(ValidationError, match="Unknown slot"):
        design_pattern_expand(pattern=pattern, values={"shape": ["x"]})


@pytest.mark.django_db
def test_compliance_report_page_in_admin(client, superuser):
    guide = StyleGuideFactory(style_rules=OUTLINE)
    TrainingExampleFactory(style_guide=guide, svg_content=LUCIDE_LIKE)
    TrainingExampleFactory(
        style_guide=guide, svg_content=LUCIDE_LIKE.replace('stroke="currentColor"', 'stroke="#ff0000"')
    )
    response = client.post(
        reverse("admin:catalog_styleguide_changelist"),
        {"action": "compliance_report", "_selected_action": [str(guide.pk)]},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "1 of 2 example(s) comply" in page and "#ff0000 is not in the palette" in page
