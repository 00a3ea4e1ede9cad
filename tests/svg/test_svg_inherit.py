"""Paint inheritance (core.svg.inherit), and the readers that share it: the style guide (generation.styling)
inherits through every <g>, as renderers do, not from the root alone."""

from __future__ import annotations

from core.svg import clean_svg, parse_svg
from core.svg.inherit import INITIAL, computed, resolve_current_colour, walk_computed
from generation.styling import style_apply

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">{body}</svg>'


def test_inherited_own_only_initial_and_current_colour() -> None:
    group = computed(INITIAL, {"fill": "#ff0000", "opacity": "0.5", "color": "#00ff00", "display": "inline"})
    child = computed(group, {"stroke": "currentColor", "fill": "inherit", "color": "not-a-colour"})
    assert child["fill"] == "#ff0000" and child["color"] == "#00ff00"  # inherit / an invalid colour: parent's
    assert "opacity" not in child and "display" not in child  # own-only: the group's, not passed down
    assert group["opacity"] == "0.5"
    assert resolve_current_colour(child["stroke"], child) == "#00ff00"
    assert computed(INITIAL, {})["stroke"] == "none" and computed(INITIAL, {})["fill"] == "black"


def test_walk_computed_follows_groups() -> None:
    root = parse_svg(
        SVG.format(body='<g stroke="#0000ff" style="stroke-width:3"><g><path d="M1 1H9"/></g></g>')
    )
    path = [p for el, p in walk_computed(root) if el.tag.endswith("path")][0]
    assert path["stroke"] == "#0000ff" and path["stroke-width"] == "3"


def _path_attrs(svg: str) -> dict[str, str]:
    return next(el for el in parse_svg(svg).iter() if el.tag.endswith("path")).attrib


def test_outline_mode_sees_a_stroke_a_group_gives() -> None:
    """A path already outlined by its group is left alone (the old code read the root only: it thought the
    path filled black, unstroked, and painted it with a black stroke)."""
    svg = clean_svg(
        SVG.format(body='<g fill="none" stroke="#ff0000" stroke-width="2"><path d="M2 2L20 20"/></g>')
    ).svg
    result = style_apply(svg, rules={"fill_mode": "outline"}, palette=None)
    assert result.applied["fill_mode"]["elements_changed"] == 0
    assert "stroke" not in _path_attrs(result.clean.svg)


def test_stroke_width_rule_reaches_strokes_set_on_a_group() -> None:
    svg = clean_svg(
        SVG.format(body='<g fill="none" stroke="#000000" stroke-width="4"><path d="M2 2L20 20"/></g>')
    ).svg
    result = style_apply(svg, rules={"stroke_width": {"min": 1, "max": 2}}, palette=None)
    assert result.applied["stroke_width"]["elements_changed"] == 1
    assert _path_attrs(result.clean.svg)["stroke-width"] == "2"
