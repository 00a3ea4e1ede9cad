"""Does an SVG do what a synthetic-grammar prompt asked for?

The prompt is parsed back to a `DesignSpec`; the SVG (any SVG, parsed through `core.svg`) is reduced to
drawn elements, each classified by shape class, nearest palette colour, grid cell of its bounding-box
centre, size class and fill/outline style. Adherence is an exact multiset match of those descriptions.
No torch here: Django code imports this module.
"""

from __future__ import annotations

import colorsys
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from training.ml.synthetic import (
    PALETTE,
    PLURALS,
    POSITIONS,
    SIZES,
    VIEWBOX,
    DesignSpec,
    ObjectSpec,
)

ASPECTS: tuple[str, ...] = ("shape", "colour", "size", "position", "count", "style")

# --- prompt grammar ----------------------------------------------------------------------------------

_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_SHAPE_WORDS = {**{s: s for s in PLURALS}, **{p: s for s, p in PLURALS.items()}}
_STYLE_WORDS = {"outlined": "outlined", "outline": "outlined", "filled": "filled", "solid": "filled"}


def _alternation(words: Iterable[str]) -> str:
    # Longest first so "top left" wins over "top".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_GROUP_RE = re.compile(
    rf"^(?P<count>{_alternation(_COUNTS)})\s+(?P<size>{_alternation(SIZES)})\s+"
    rf"(?P<colour>{_alternation(PALETTE)})\s+(?:(?P<style>{_alternation(_STYLE_WORDS)})\s+)?"
    rf"(?P<shape>{_alternation(_SHAPE_WORDS)})\s+(?:at|in)\s+the\s+(?P<position>{_alternation(POSITIONS)})$"
)


def parse_prompt(prompt: str) -> DesignSpec | None:
    """The spec of a prompt in the synthetic grammar, or None when it is not in the grammar."""
    text = re.sub(r"\s+", " ", prompt.strip().lower()).rstrip(".!")
    objects = []
    for clause in text.split(" and "):
        m = _GROUP_RE.match(clause.strip())
        if not m:
            return None
        count = _COUNTS[m["count"]]
        shape_word = m["shape"]
        if (count == 1) != (shape_word in PLURALS):  # "two circle" / "a circles" are not grammatical
            return None
        objects.append(
            ObjectSpec(
                shape=_SHAPE_WORDS[shape_word],
                colour=m["colour"],
                size=m["size"],
                position=m["position"],
                count=count,
                style=_STYLE_WORDS.get(m["style"] or "", "filled"),
            )
        )
    return DesignSpec(objects=tuple(objects))


# --- SVG analysis ------------------------------------------------------------------------------------

Matrix = tuple[float, float, float, float, float, float]  # a b c d e f, as in SVG matrix()
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUM_RE = re.compile(_NUM)
_PATH_RE = re.compile(rf"[MmLlHhVvZzCcSsQqTtAa]|{_NUM}")
_SKIP_TAGS = {"defs", "clipPath", "mask", "symbol", "pattern", "marker", "title", "desc", "metadata", "style"}
_SHAPE_TAGS = {"circle", "ellipse", "rect", "polygon", "polyline", "path", "line"}
_CSS_NAMES: dict[str, str] = {
    "black": "#000000",
    "white": "#ffffff",
    "red": "#ff0000",
    "green": "#008000",
    "lime": "#00ff00",
    "blue": "#0000ff",
    "yellow": "#ffff00",
    "orange": "#ffa500",
    "purple": "#800080",
    "pink": "#ffc0cb",
    "brown": "#a52a2a",
    "teal": "#008080",
    "gray": "#808080",
    "grey": "#808080",
    "navy": "#000080",
    "maroon": "#800000",
    "olive": "#808000",
    "cyan": "#00ffff",
    "magenta": "#ff00ff",
    "violet": "#ee82ee",
    "gold": "#ffd700",
}
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


@dataclass
class AdherenceResult:
    valid: bool
    adherent: bool
    aspects: dict[str, bool] = field(default_factory=dict)
    expected: DesignSpec | None = None
    observed: list[ObservedElement] = field(default_factory=list)
    error: str | None = None


def _local(tag: object) -> str:
    return tag.split("}", 1)[-1] if isinstance(tag, str) else ""


def _num(value: str | None, default: float = 0.0) -> float:
    if not value:
        return default
    m = _NUM_RE.match(value.strip())
    return float(m.group()) if m else default


def _mul(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def parse_transform(text: str | None) -> Matrix:
    """translate/scale/rotate/matrix/skew, composed left to right as SVG specifies."""
    m = IDENTITY
    for name, args_text in re.findall(r"(\w+)\s*\(([^)]*)\)", text or ""):
        args = [float(x) for x in _NUM_RE.findall(args_text)]
        if name == "translate" and args:
            t: Matrix = (1, 0, 0, 1, args[0], args[1] if len(args) > 1 else 0)
        elif name == "scale" and args:
            t = (args[0], 0, 0, args[1] if len(args) > 1 else args[0], 0, 0)
        elif name == "rotate" and args:
            r = math.radians(args[0])
            cos, sin = math.cos(r), math.sin(r)
            t = (cos, sin, -sin, cos, 0, 0)
            if len(args) >= 3:
                t = _mul(_mul((1, 0, 0, 1, args[1], args[2]), t), (1, 0, 0, 1, -args[1], -args[2]))
        elif name == "matrix" and len(args) == 6:
            t = (args[0], args[1], args[2], args[3], args[4], args[5])
        elif name == "skewX" and args:
            t = (1, 0, math.tan(math.radians(args[0])), 1, 0, 0)
        elif name == "skewY" and args:
            t = (1, math.tan(math.radians(args[0])), 0, 1, 0, 0)
        else:
            continue
        m = _mul(m, t)
    return m


def _apply(m: Matrix, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    a, b, c, d, e, f = m
    return [(a * x + c * y + e, b * x + d * y + f) for x, y in pts]


def parse_colour(value: str | None) -> tuple[int, int, int] | None:
    """An RGB triple, or None for none/transparent/unparseable paint (gradients included)."""
    if value is None:
        return None
    v = value.strip().lower()
    v = _CSS_NAMES.get(v, v)
    if re.fullmatch(r"#[0-9a-f]{3,4}", v):
        return (int(v[1] * 2, 16), int(v[2] * 2, 16), int(v[3] * 2, 16))
    if re.fullmatch(r"#[0-9a-f]{6}([0-9a-f]{2})?", v):
        return (int(v[1:3], 16), int(v[3:5], 16), int(v[5:7], 16))
    m = re.fullmatch(r"rgba?\(([^)]*)\)", v)
    if m:
        parts = [p.strip() for p in re.split(r"[,\s/]+", m.group(1)) if p.strip()]
        if len(parts) >= 3:
            try:
                rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            except ValueError:
                return None
            return (round(rgb[0]), round(rgb[1]), round(rgb[2]))
    return None


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


def _style_dict(el: ET.Element) -> dict[str, str]:
    props = {k: v for k, v in el.attrib.items() if "}" not in k}
    for decl in (el.get("style") or "").split(";"):
        if ":" in decl:
            k, v = decl.split(":", 1)
            props[k.strip()] = v.strip()
    return props


def _arc_points(
    x1: float, y1: float, rx: float, ry: float, phi_deg: float, large: bool, sweep: bool, x2: float, y2: float
) -> list[tuple[float, float]]:
    """Points along an elliptical arc (SVG endpoint parameterisation -> centre form, then sampled)."""
    if rx == 0 or ry == 0 or (x1 == x2 and y1 == y2):
        return [(x2, y2)]
    phi = math.radians(phi_deg)
    cos, sin = math.cos(phi), math.sin(phi)
    dx, dy = (x1 - x2) / 2, (y1 - y2) / 2
    x1p, y1p = cos * dx + sin * dy, -sin * dx + cos * dy
    rx, ry = abs(rx), abs(ry)
    lam = (x1p / rx) ** 2 + (y1p / ry) ** 2
    if lam > 1:  # radii too small: scale up as the spec says
        rx, ry = rx * math.sqrt(lam), ry * math.sqrt(lam)
    num = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p
    den = rx * rx * y1p * y1p + ry * ry * x1p * x1p
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if large == sweep:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    cx = cos * cxp - sin * cyp + (x1 + x2) / 2
    cy = sin * cxp + cos * cyp + (y1 + y2) / 2

    def angle(ux: float, uy: float, vx: float, vy: float) -> float:
        return math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)

    t1 = angle(1, 0, (x1p - cxp) / rx, (y1p - cyp) / ry)
    dt = angle((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry)
    if not sweep and dt > 0:
        dt -= 2 * math.pi
    elif sweep and dt < 0:
        dt += 2 * math.pi
    pts = []
    for k in range(1, 17):
        t = t1 + dt * k / 16
        ex, ey = rx * math.cos(t), ry * math.sin(t)
        pts.append((cos * ex - sin * ey + cx, sin * ex + cos * ey + cy))
    return pts


def _bezier_points(p0: tuple[float, float], ctrl: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points along a quadratic or cubic Bezier (control points over-bound the curve, samples do not)."""
    pts = [p0, *ctrl]
    out = []
    for k in range(1, 9):
        t = k / 8
        layer = pts
        while len(layer) > 1:  # de Casteljau
            layer = [
                ((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1])
                for a, b in zip(layer, layer[1:], strict=False)
            ]
        out.append(layer[0])
    return out


def _path_geometry(d: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]], bool]:
    """(vertices of straight segments, points along the outline for the bbox, has curves) of `d`."""
    tokens = _PATH_RE.findall(d or "")
    vertices: list[tuple[float, float]] = []
    points: list[tuple[float, float]] = []
    curved = False
    x = y = sx = sy = 0.0
    last_ctrl: tuple[float, float] | None = None  # for S/T reflection
    cmd = ""
    i = 0
    arity = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "a": 7, "z": 0}
    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
            if cmd in "zZ":
                x, y = sx, sy
                last_ctrl = None
                continue
        elif not cmd or cmd in "zZ":
            break
        n = arity[cmd.lower()]
        try:
            args = [float(t) for t in tokens[i : i + n]]
        except ValueError:
            break
        if len(args) < n:
            break
        i += n
        rel = cmd.islower()
        lc = cmd.lower()
        ox, oy = (x, y) if rel else (0.0, 0.0)
        if lc in "ml":
            x, y = ox + args[0], oy + args[1]
            if lc == "m":
                sx, sy = x, y
                cmd = "l" if rel else "L"  # implicit lineto after moveto
            vertices.append((x, y))
            last_ctrl = None
        elif lc == "h":
            x = ox + args[0]
            vertices.append((x, y))
            last_ctrl = None
        elif lc == "v":
            y = oy + args[0]
            vertices.append((x, y))
            last_ctrl = None
        elif lc == "a":
            curved = True
            nx, ny = ox + args[5], oy + args[6]
            points += _arc_points(x, y, args[0], args[1], args[2], bool(args[3]), bool(args[4]), nx, ny)
            x, y = nx, ny
            vertices.append((x, y))
            last_ctrl = None
        else:
            curved = True
            coords = [(ox + args[k], oy + args[k + 1]) for k in range(0, n, 2)]
            if lc in "st":  # first control point is the reflection of the previous one
                reflected = (2 * x - last_ctrl[0], 2 * y - last_ctrl[1]) if last_ctrl else (x, y)
                coords = [reflected, *coords]
            points += _bezier_points((x, y), coords)
            last_ctrl = coords[-2]
            x, y = coords[-1]
            vertices.append((x, y))
        points.append((x, y))
    return vertices, points + vertices, curved


def _dedupe(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for p in pts:
        if not out or abs(out[-1][0] - p[0]) > 1e-6 or abs(out[-1][1] - p[1]) > 1e-6:
            out.append(p)
    if len(out) > 1 and abs(out[0][0] - out[-1][0]) < 1e-6 and abs(out[0][1] - out[-1][1]) < 1e-6:
        out.pop()
    return out


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


def _geometry(tag: str, el: ET.Element) -> tuple[str, list[tuple[float, float]]] | None:
    """Shape class and outline points (element coordinates) of a drawable element."""
    g = el.get
    if tag == "circle":
        cx, cy, r = _num(g("cx")), _num(g("cy")), _num(g("r"))
        return ("circle", [(cx - r, cy - r), (cx + r, cy + r)]) if r > 0 else None
    if tag == "ellipse":
        cx, cy, rx, ry = _num(g("cx")), _num(g("cy")), _num(g("rx")), _num(g("ry"))
        return (_round_shape(rx, ry), [(cx - rx, cy - ry), (cx + rx, cy + ry)]) if rx > 0 and ry > 0 else None
    if tag == "rect":
        x, y, w, h = _num(g("x")), _num(g("y")), _num(g("width")), _num(g("height"))
        return (
            (_rect_shape(w, h), [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]) if w > 0 and h > 0 else None
        )
    if tag in ("polygon", "polyline"):
        nums = [float(v) for v in _NUM_RE.findall(g("points") or "")]
        pts = _dedupe([(nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)])
        return (_polygon_shape(pts), pts) if len(pts) >= 2 else None
    if tag == "path":
        vertices, points, curved = _path_geometry(g("d") or "")
        if len(points) < 2:
            return None
        if curved:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            return _round_shape(max(xs) - min(xs), max(ys) - min(ys)), points
        return _polygon_shape(_dedupe(vertices)), points
    if tag == "line":
        return "line", [(_num(g("x1")), _num(g("y1"))), (_num(g("x2")), _num(g("y2")))]
    return None


def _viewbox(root: ET.Element) -> tuple[float, float, float, float]:
    nums = [float(v) for v in _NUM_RE.findall(root.get("viewBox") or "")]
    if len(nums) == 4 and nums[2] > 0 and nums[3] > 0:
        return (nums[0], nums[1], nums[2], nums[3])
    w, h = _num(root.get("width"), VIEWBOX), _num(root.get("height"), VIEWBOX)
    return (0.0, 0.0, w or VIEWBOX, h or VIEWBOX)


_POSITION_BY_CELL = {cell: name for name, cell in POSITIONS.items()}


def analyse_svg_tree(root: ET.Element) -> list[ObservedElement]:
    """Drawn elements in document order, with inherited paint and transforms; a background rect is skipped."""
    vx, vy, vw, vh = _viewbox(root)
    out: list[ObservedElement] = []

    def walk(el: ET.Element, inherited: dict[str, str], matrix: Matrix) -> None:
        tag = _local(el.tag)
        if tag in _SKIP_TAGS:
            return
        props = _style_dict(el)
        if (
            props.get("display") == "none"
            or props.get("visibility") == "hidden"
            or _num(props.get("opacity"), 1) <= 0
        ):
            return
        paint = dict(inherited)
        for key in ("fill", "stroke", "color", "fill-opacity", "stroke-opacity", "stroke-width"):
            if key in props and props[key] != "inherit":
                paint[key] = props[key]
        m = _mul(matrix, parse_transform(el.get("transform"))) if el is not root else matrix
        if tag in _SHAPE_TAGS:
            obs = _observe(tag, el, paint, m, (vx, vy, vw, vh))
            if obs is not None:
                out.append(obs)
            return
        for child in el:
            walk(child, paint, m)

    walk(root, {"fill": "black"}, IDENTITY)  # SVG's initial fill is black, stroke none
    return out


def _resolve(paint: dict[str, str], key: str) -> tuple[int, int, int] | None:
    value = paint.get(key)
    if value is None or _num(paint.get(f"{key}-opacity"), 1) <= 0:
        return None
    if value.strip().lower() == "currentcolor":
        value = paint.get("color", "black")
    return parse_colour(value)


def _observe(
    tag: str, el: ET.Element, paint: dict[str, str], m: Matrix, vb: tuple[float, float, float, float]
) -> ObservedElement | None:
    geom = _geometry(tag, el)
    if geom is None:
        return None
    shape, pts = geom
    pts = _apply(m, pts)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    vx, vy, vw, vh = vb
    if tag == "rect" and (x1 - x0) * (y1 - y0) >= 0.9 * vw * vh:
        return None  # a background, not an object
    fill = _resolve(paint, "fill")
    stroke = _resolve(paint, "stroke") if _num(paint.get("stroke-width"), 1) > 0 else None
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


# --- checking ----------------------------------------------------------------------------------------


def expected_elements(spec: DesignSpec) -> list[tuple[str, str, str, str, str]]:
    return [(o.shape, o.colour, o.size, o.position, o.style) for o in spec.objects for _ in range(o.count)]


def compare(spec: DesignSpec, observed: list[ObservedElement]) -> dict[str, bool]:
    """Per-aspect multiset comparison; "count" checks the total and each group's cell population."""
    exp = expected_elements(spec)
    obs = [o.key() for o in observed]
    aspects = {}
    for i, name in enumerate(("shape", "colour", "size", "position")):
        aspects[name] = Counter(e[i] for e in exp) == Counter(o[i] for o in obs)
    aspects["style"] = Counter(e[4] for e in exp) == Counter(o[4] for o in obs)
    per_cell = Counter(o.position for o in observed)
    aspects["count"] = len(obs) == len(exp) and all(per_cell[g.position] == g.count for g in spec.objects)
    return aspects


def check(prompt: str | DesignSpec, svg_text: str) -> AdherenceResult:
    """Parse the SVG through core.svg and compare it with the prompt's spec."""
    from core.svg import SvgError, parse_svg

    spec = parse_prompt(prompt) if isinstance(prompt, str) else prompt
    try:
        root = parse_svg(svg_text)
    except SvgError as exc:
        return AdherenceResult(valid=False, adherent=False, expected=spec, error=str(exc))
    except Exception as exc:  # any parser failure just means "not valid"
        return AdherenceResult(
            valid=False, adherent=False, expected=spec, error=f"{type(exc).__name__}: {exc}"
        )
    observed = analyse_svg_tree(root)
    if spec is None:
        return AdherenceResult(
            valid=True, adherent=False, observed=observed, error="prompt is not in the grammar"
        )
    aspects = compare(spec, observed)
    adherent = Counter(expected_elements(spec)) == Counter(o.key() for o in observed)
    return AdherenceResult(valid=True, adherent=adherent, aspects=aspects, expected=spec, observed=observed)


def check_rows(rows: Iterable[tuple[str, str]]) -> tuple[float, float]:
    """(adherence fraction, valid fraction) over (prompt, svg) pairs; (0, 0) when empty."""
    n = adherent = valid = 0
    for prompt, svg in rows:
        r = check(prompt, svg)
        n += 1
        adherent += r.adherent
        valid += r.valid
    return (adherent / n, valid / n) if n else (0.0, 0.0)


def check_file(path: str | Path) -> tuple[float, float]:
    """(adherence fraction, valid fraction) for a JSONL file of rows with `prompt` and `svg`."""

    def rows() -> Iterable[tuple[str, str]]:
        with Path(path).open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    yield row["prompt"], row["svg"]

    return check_rows(rows())
