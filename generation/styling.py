"""Apply a style guide's rules (and a palette) to a sanitised design, and say what was changed.

Input and output both go through core.svg: the tree comes from `parse_svg`, and the edited text is
cleaned again with `clean_svg`, so whatever this module writes is sanitised and normalised like any
other design.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from core.svg import CleanSvg, clean_svg, parse_svg
from core.svg.colour import hex_colour, nearest_colour, parse_colour
from core.svg.inherit import resolve_current_colour, walk_computed
from core.svg.style import format_style, local_name, parse_style

PAINT_ATTRS = ("fill", "stroke", "stop-color", "color")
SHAPES = frozenset({"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "text"})


@dataclass
class StyleResult:
    clean: CleanSvg
    applied: dict[str, Any] = field(default_factory=dict)


def _set_style(el: ET.Element, decls: dict[str, str]) -> None:
    if decls:
        el.set("style", format_style(decls))
    elif "style" in el.attrib:
        del el.attrib["style"]


def _numeric(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(re.sub(r"px$", "", value.strip()))
    except ValueError:
        return None


def style_apply(svg: str, *, rules: dict[str, Any] | None, palette: list[str] | None) -> StyleResult:
    """Recolour to the palette, set or clamp stroke width, caps and joins, outline/fill mode.

    `svg` must already be clean. Rules that cannot be applied safely (a different viewBox would distort
    the drawing) are reported under `not_applied`.
    """
    rules = rules or {}
    root = parse_svg(svg)
    applied: dict[str, Any] = {}
    not_applied: list[str] = []

    targets = [rgb for rgb in (parse_colour(c) for c in (palette or [])) if rgb is not None]
    recoloured: dict[str, str] = {}
    if targets:
        for el in root.iter():
            decls = parse_style(el.get("style"))
            for name in PAINT_ATTRS:
                for source in ("attr", "style"):
                    value = el.get(name) if source == "attr" else decls.get(name)
                    rgb = parse_colour(value)
                    if rgb is None:
                        continue
                    new = hex_colour(nearest_colour(rgb, targets))
                    recoloured[hex_colour(rgb)] = new
                    if source == "attr":
                        el.set(name, new)
                    else:
                        decls[name] = new
            _set_style(el, decls)
        applied["recoloured"] = dict(sorted(recoloured.items()))

    mode = rules.get("fill_mode")
    sw = rules.get("stroke_width")
    fixed_width = sw if isinstance(sw, int | float) and not isinstance(sw, bool) else None
    changed_mode = changed_width = 0
    for el, props in walk_computed(root):  # paint as inherited through every <g>, not the root alone
        if local_name(el.tag) not in SHAPES:
            continue
        fill, stroke = props["fill"], props["stroke"]
        fill_paint = fill.strip().lower() != "none"
        stroke_paint = stroke.strip().lower() != "none"
        if mode == "outline" and fill_paint and local_name(el.tag) != "text":
            colour = resolve_current_colour(fill, props)
            el.set("fill", "none")
            if not stroke_paint:
                el.set("stroke", colour)
                stroke_paint = True
            changed_mode += 1
        elif (
            mode == "fill"
            and not fill_paint
            and stroke_paint
            and local_name(el.tag) not in ("line", "polyline")
        ):
            el.set("fill", resolve_current_colour(stroke, props))
            changed_mode += 1
        if not stroke_paint:
            continue
        width = _numeric(props["stroke-width"])
        if fixed_width is not None:
            new_width: float | None = float(fixed_width)
        elif isinstance(sw, dict):
            current = 1.0 if width is None else width
            new_width = min(max(current, float(sw["min"])), float(sw["max"]))
        else:
            new_width = None
        if new_width is not None and new_width != width:
            el.set("stroke-width", f"{new_width:g}")
            decls = parse_style(el.get("style"))
            if decls.pop("stroke-width", None) is not None:
                _set_style(el, decls)
            changed_width += 1
        if rules.get("line_cap"):
            el.set("stroke-linecap", rules["line_cap"])
        if rules.get("line_join"):
            el.set("stroke-linejoin", rules["line_join"])
    if mode in ("outline", "fill"):
        applied["fill_mode"] = {"mode": mode, "elements_changed": changed_mode}
    if sw is not None:
        applied["stroke_width"] = {"rule": sw, "elements_changed": changed_width}
    for key in ("line_cap", "line_join"):
        if rules.get(key):
            applied[key] = rules[key]
    if rules.get("view_box") and root.get("viewBox") != rules["view_box"]:
        not_applied.append("view_box (changing it would distort the drawing)")
    if not_applied:
        applied["not_applied"] = not_applied
    return StyleResult(clean=clean_svg(ET.tostring(root, encoding="unicode")), applied=applied)
