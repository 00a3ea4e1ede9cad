"""What an SVG draws, in the synthetic grammar's terms: each drawn element (inherited paint and transforms
applied, a background rect skipped) classified by shape class, nearest palette colour, grid cell of its
bounding-box centre, size class and fill/outline style (slm.adherence compares them with a prompt's spec).
No torch here: Django code imports this module.
"""

from __future__ import annotations

import colorsys
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from core.svg.colour import parse_colour
from core.svg.geometry import (
    IDENTITY,
    Matrix,
    Outline,
    dedupe,
    multiply,
    number,
    outline,
    parse_transform,
    transform_points,
)
from core.svg.inherit import INITIAL, computed, opacity_of, resolve_current_colour
from core.svg.parse import parse_view_box
from core.svg.style import local_name, presentation
from slm.synthetic import PALETTE, POSITIONS, SIZES, VIEWBOX

_SKIP_TAGS = {"defs", "clipPath", "mask", "symbol", "pattern", "marker", "title", "desc", "metadata", "style"}
_SHAPE_TAGS = {"circle", "ellipse", "rect", "polygon", "polyline", "path", "line"}
_PALETTE_RGB = {name: tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for name, h in PALETTE.items()}


@dataclass(frozen=True)
class ObservedElement:
    tag: str
    shape: str
    colour: str | None
    size: str
    position: str
    style: str
    bbox: tuple[float, float, float, float]  # x0 y0 x1 y1 in viewBox units

    def key(self) -> tuple[str, str | None, str, str, str]:
        return (self.shape, self.colour, self.size, self.position, self.style)


def _cone(rgb: tuple[int, ...]) -> tuple[float, float, float]:
    """A point in the HSV cone: hue as an angle scaled by chroma, value as height. Hue dominates for
    saturated colours (CSS "blue" is nearer our blue than our purple), value for greys and blacks."""
    r, g, b = (c / 255 for c in rgb[:3])
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    chroma = s * v
    return (chroma * math.cos(2 * math.pi * h), chroma * math.sin(2 * math.pi * h), v)


_PALETTE_CONE = {name: _cone(rgb) for name, rgb in _PALETTE_RGB.items()}


def nearest_palette_colour(rgb: tuple[int, int, int]) -> str:
    """The palette name nearest to an RGB colour (exact for the palette's own hex values)."""
    p = _cone(rgb)
    return min(
        _PALETTE_CONE, key=lambda n: sum((a - b) ** 2 for a, b in zip(p, _PALETTE_CONE[n], strict=True))
    )


def _round_shape(w: float, h: float) -> str:
    return "circle" if h > 0 and 0.85 <= w / h <= 1.18 else "ellipse"


def _rect_shape(w: float, h: float) -> str:
    return "square" if h > 0 and 0.85 <= w / h <= 1.18 else "rectangle"


def _polygon_shape(pts: list[tuple[float, float]]) -> str:
    n = len(pts)
    if n == 3:
        return "triangle"
    if n == 4:
        xs = {round(p[0], 3) for p in pts}
        ys = {round(p[1], 3) for p in pts}
        if len(xs) == 2 and len(ys) == 2:
            return _rect_shape(max(xs) - min(xs), max(ys) - min(ys))
        return "diamond"
    if n == 10:
        return "star"
    return f"polygon{n}"


def _shape(tag: str, shape: Outline) -> str:
    """Shape class of a drawable element from its outline (core.svg.geometry)."""
    xs, ys = [p[0] for p in shape.points], [p[1] for p in shape.points]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    if tag == "circle":
        return "circle"
    if tag == "ellipse" or (tag == "path" and shape.curved):
        return _round_shape(width, height)
    if tag == "rect":
        return _rect_shape(width, height)
    if tag == "line":
        return "line"
    return _polygon_shape(dedupe(shape.vertices))


def _viewbox(root: ET.Element) -> tuple[float, float, float, float]:
    box = parse_view_box(root.get("viewBox"))
    if box is not None:
        return box
    w, h = number(root.get("width"), VIEWBOX), number(root.get("height"), VIEWBOX)
    return (0.0, 0.0, w or VIEWBOX, h or VIEWBOX)


_POSITION_BY_CELL = {cell: name for name, cell in POSITIONS.items()}


def analyse_svg_tree(root: ET.Element) -> list[ObservedElement]:
    """Drawn elements in document order, with inherited paint and transforms; a background rect is skipped."""
    vx, vy, vw, vh = _viewbox(root)
    out: list[ObservedElement] = []

    def walk(el: ET.Element, inherited: dict[str, str], matrix: Matrix) -> None:
        tag = local_name(el.tag)
        if tag in _SKIP_TAGS:
            return
        paint = computed(inherited, presentation(el))
        if paint.get("display") == "none" or opacity_of(paint.get("opacity")) <= 0:
            return
        m = multiply(matrix, parse_transform(el.get("transform"))) if el is not root else matrix
        if tag in _SHAPE_TAGS:
            obs = _observe(tag, el, paint, m, (vx, vy, vw, vh)) if paint["visibility"] == "visible" else None
            if obs is not None:
                out.append(obs)
            return
        for child in el:
            walk(child, paint, m)

    walk(root, INITIAL, IDENTITY)
    return out


def _resolve(paint: dict[str, str], key: str) -> tuple[int, int, int] | None:
    value = paint.get(key)
    if value is None or opacity_of(paint.get(f"{key}-opacity")) <= 0:
        return None
    return parse_colour(resolve_current_colour(value, paint))


def _observe(
    tag: str, el: ET.Element, paint: dict[str, str], m: Matrix, vb: tuple[float, float, float, float]
) -> ObservedElement | None:
    shape_outline = outline(el)
    if shape_outline is None:
        return None
    shape = _shape(tag, shape_outline)
    pts = transform_points(m, shape_outline.points)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    vx, vy, vw, vh = vb
    if tag == "rect" and (x1 - x0) * (y1 - y0) >= 0.9 * vw * vh:
        return None  # a background, not an object
    fill = _resolve(paint, "fill")
    stroke = _resolve(paint, "stroke") if number(paint.get("stroke-width"), 1) > 0 else None
    if tag in ("line", "polyline"):
        fill = None if tag == "line" else fill
    if fill is not None:
        style, rgb = "filled", fill
    elif stroke is not None:
        style, rgb = "outlined", stroke
    else:
        return None  # invisible
    # Normalise to the canonical 96-unit canvas so sizes compare across viewBoxes.
    sx, sy = VIEWBOX / vw, VIEWBOX / vh
    half = max((x1 - x0) * sx, (y1 - y0) * sy) / 2
    size = min(SIZES, key=lambda s: abs(SIZES[s] - half))
    cx, cy = ((x0 + x1) / 2 - vx) / vw, ((y0 + y1) / 2 - vy) / vh
    cell = (min(2, max(0, int(cx * 3))), min(2, max(0, int(cy * 3))))
    return ObservedElement(
        tag=tag,
        shape=shape,
        colour=nearest_palette_colour(rgb),
        size=size,
        position=_POSITION_BY_CELL[cell],
        style=style,
        bbox=(x0, y0, x1, y1),
    )
