"""Style guides as data: conditioning text for the model, and compliance of a design with the rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.svg import SvgError, parse_svg
from core.svg.colour import normalise_colour
from core.svg.parse import parse_view_box
from core.svg.style import local_name, presentation

DRAWN = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text"})


def conditioning_text(guide: Any) -> str:
    """A short, stable line of text the model reads before the prompt ("style: ...")."""
    if guide is None:
        return ""
    rules: dict[str, Any] = guide.style_rules or {}
    parts = [f"style {guide.guide_name.lower()}"]
    if rules.get("palette"):
        parts.append("palette " + " ".join(rules["palette"]))
    if "stroke_width" in rules:
        sw = rules["stroke_width"]
        parts.append(f"stroke {sw['min']}-{sw['max']}" if isinstance(sw, dict) else f"stroke {sw}")
    for key, word in (
        ("line_cap", "caps"),
        ("line_join", "joins"),
        ("fill_mode", "mode"),
        ("view_box", "viewbox"),
    ):
        if rules.get(key):
            parts.append(f"{word} {rules[key]}")
    return "; ".join(parts)


@dataclass
class Compliance:
    ok: bool
    violations: list[str] = field(default_factory=list)


def check_compliance(svg: str, rules: dict[str, Any]) -> Compliance:
    """Which of the guide's rules a design breaks. Parsing goes through core.svg."""
    try:
        root = parse_svg(svg)
    except SvgError as exc:
        return Compliance(False, [f"not a valid SVG: {exc}"])
    violations: list[str] = []
    palette = {normalise_colour(c) for c in rules.get("palette", [])}
    if "currentcolor" not in palette and "#000000" in palette:
        palette.add("currentcolor")  # icon sets draw in currentColor, black by default
    drawn = [el for el in root.iter() if local_name(el.tag) in DRAWN]
    fills: set[str] = set()
    strokes: set[str] = set()
    widths: set[float] = set()
    caps: set[str] = set()
    joins: set[str] = set()
    for el in root.iter():
        props = presentation(el)
        fill, stroke, width = props.get("fill"), props.get("stroke"), props.get("stroke-width")
        if fill:
            fills.add(fill.lower())
        if stroke:
            strokes.add(stroke.lower())
        if width:
            try:
                widths.add(float(re.sub(r"px$", "", width)))
            except ValueError:
                violations.append(f"unreadable stroke-width {width!r}")
        if props.get("stroke-linecap"):
            caps.add(props["stroke-linecap"])
        if props.get("stroke-linejoin"):
            joins.add(props["stroke-linejoin"])
    if palette:
        for colour in sorted(fills | strokes):
            if colour in ("none", "transparent") or colour.startswith("url("):
                continue
            if normalise_colour(colour) not in palette:
                violations.append(f"colour {colour} is not in the palette")
    sw = rules.get("stroke_width")
    if sw is not None and widths:
        lo, hi = (sw["min"], sw["max"]) if isinstance(sw, dict) else (sw, sw)
        for w in sorted(widths):
            if not lo - 1e-6 <= w <= hi + 1e-6:
                violations.append(f"stroke-width {w:g} is outside {lo:g}–{hi:g}")
    if rules.get("line_cap") and caps - {rules["line_cap"]}:
        violations.append(
            f"line caps {', '.join(sorted(caps - {rules['line_cap']}))} (guide: {rules['line_cap']})"
        )
    if rules.get("line_join") and joins - {rules["line_join"]}:
        violations.append(
            f"line joins {', '.join(sorted(joins - {rules['line_join']}))} (guide: {rules['line_join']})"
        )
    mode = rules.get("fill_mode")
    painted_fills = {f for f in fills if f not in ("none", "transparent")}
    if mode == "outline" and painted_fills:
        violations.append(f"filled shapes ({', '.join(sorted(painted_fills))}) in an outline style")
    if mode == "fill" and not painted_fills and drawn:
        violations.append("outline-only design in a filled style")
    if rules.get("view_box"):
        want = parse_view_box(rules["view_box"])
        got = parse_view_box(root.get("viewBox"))
        if got != want:
            violations.append(f"viewBox {root.get('viewBox')} (guide: {rules['view_box']})")
    if rules.get("max_elements") and len(drawn) > rules["max_elements"]:
        violations.append(f"{len(drawn)} shapes, more than the guide's {rules['max_elements']}")
    # One message per distinct violation, in order.
    violations = list(dict.fromkeys(violations))
    return Compliance(not violations, violations)
