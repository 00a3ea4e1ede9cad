"""The near-duplicate benchmark's perturbed copy of an icon (see bench/near_duplicates.py).

The copy is the same picture written differently:
- shifted by 1 unit right and down (its content wrapped in a translated group);
- re-serialised: attributes in reverse order, path data rewritten with commas, explicit commands and
  three decimals without a leading zero (`.500`), arc flags kept as 0/1;
- stroke width +10% where a shape has one; a shape with none (MDI's are fills) gets a stroke in its new
  colour 0.1 units wide, 10% of SVG's default width of 1, so every edge thickens;
- recoloured: every fill and stroke that paints becomes #c0392b.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from core.svg.path_data import parse_path

SVG_NS = "http://www.w3.org/2000/svg"
SHAPES = {"path", "circle", "rect", "ellipse", "polygon", "polyline", "line"}
COLOUR = "#c0392b"
ET.register_namespace("", SVG_NS)


def _fmt(v: float) -> str:
    s = f"{v:.3f}"
    if s.startswith("0."):
        return s[1:]
    if s.startswith("-0."):
        return "-" + s[2:]
    return s


def _rewrite_path(d: str) -> str:
    segments = parse_path(d)
    if not segments:
        return d
    parts = []
    for cmd, args in segments:
        arity = 7 if cmd.upper() == "A" else 0
        words = [str(int(x)) if arity and i % 7 in (3, 4) else _fmt(x) for i, x in enumerate(args)]
        parts.append(cmd + ",".join(words))
    return " ".join(parts)


def _restyle(el: ET.Element) -> None:
    width = el.get("stroke-width")
    el.set("stroke-width", _fmt(float(width) * 1.1) if width else ".1")
    el.set("stroke", COLOUR)
    if el.get("fill") != "none":
        el.set("fill", COLOUR)


def perturb(svg: str) -> str:
    root = ET.fromstring(svg)
    for el in root.iter():
        if el.get("d"):
            el.set("d", _rewrite_path(el.get("d", "")))
        if el is not root and el.tag.rsplit("}", 1)[-1] in SHAPES:
            _restyle(el)
        items = list(el.attrib.items())[::-1]
        el.attrib.clear()
        for key, value in items:
            el.set(key, value)
    group = ET.SubElement(root, f"{{{SVG_NS}}}g", transform="translate(1 1)")
    for child in list(root):
        if child is not group:
            root.remove(child)
            group.append(child)
    return ET.tostring(root, encoding="unicode")
