"""The model form: the short, canonical text a design model reads and writes instead of SVG, and its
decoding back into clean SVG.

One design is one line of space-separated units:
- paint, written only where it changes from the element before (the first element starts from SVG's
  defaults: black fill, no stroke): `fill:none`, `fill:#1e88e5`, `stroke:#000000`, `sw:4` (stroke width in
  grid units, halves allowed), `cap:round`, `join:round`, `rule:evenodd`, `fop:0.5` / `sop:0.5`
  (fill and stroke opacity, tenths), `dash:4,2`;
- an element opening followed by its integers: `<circle cx cy r`, `<ellipse cx cy rx ry`,
  `<rect x y w h`, `<rrect x y w h rx ry`, `<line x1 y1 x2 y2`, `<polyline x y …`, `<polygon x y …`,
  `<path` and its commands;
- path commands, all absolute: `M L H V C S Q T Z`, `R<large><sweep> r x y` for a circular arc and
  `A<large><sweep> rx ry rotation x y` for an elliptical one. Lines parallel to an axis are written H/V and
  curves whose first control point mirrors the last one S/T: the shortest exact spelling on the grid.
- every coordinate is an integer on a grid of `grid` units across the longer side of the viewBox.

Encoding resolves what the renderer would: CSS (style attributes and simple stylesheet rules),
inherited presentation attributes, currentColor, opacity, transforms (applied to the coordinates; a
circle under a rotation stays a circle, under a skew it becomes a path), `<use>`, and gradients (their
mean stop colour: the form has flat paint only). What does not draw is dropped (ids, classes, sizes,
titles, metadata); consecutive stroke-only paths in one paint become one path. What the form cannot
express (text, masks, clip paths other than a full-canvas rectangle, nested viewports) raises
ModelFormError with the reason, so an importer or a training run can report it per example.

Decoding is lenient because a model wrote the text: an element cut short or malformed is dropped and
reported, the rest is kept. It writes a viewBox of `view` units and hoists paint that every element
shares onto the root.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from core.svg.colour import hex_colour, paint_alpha, parse_colour
from core.svg.geometry import IDENTITY, Matrix, arc_midpoint, multiply, parse_transform, transform_ellipse
from core.svg.parse import SvgError, parse_svg, parse_view_box
from core.svg.sanitise import sanitise_tree
from core.svg.style import local_name, parse_style
from core.svg.values import NUM, parse_path

FORM_VERSION = 1
SHAPES = ("path", "circle", "ellipse", "rect", "line", "polyline", "polygon")
ELEMENT_UNITS = ("<path", "<circle", "<ellipse", "<rect", "<rrect", "<line", "<polyline", "<polygon")
PATH_COMMANDS = ("M", "L", "H", "V", "C", "S", "Q", "T", "Z")
ARC_COMMANDS = tuple(f"{kind}{large}{sweep}" for kind in "RA" for large in "01" for sweep in "01")
# Drawn only where referenced (gradients through paint, elements through <use>), or never.
_NOT_DRAWN = frozenset(
    {
        "defs",
        "title",
        "desc",
        "metadata",
        "style",
        "linearGradient",
        "radialGradient",
        "clipPath",
        "mask",
        "symbol",
        "marker",
        "pattern",
        "filter",
        "stop",
    }
)
_INHERITED = (
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-dasharray",
    "stroke-opacity",
    "color",
    "visibility",
)
_OWN_ONLY = ("opacity", "display", "clip-path", "mask")
_PROPS = frozenset(_INHERITED + _OWN_ONLY)
_INITIAL = {"fill": "black", "stroke": "none", "stroke-width": "1", "color": "black"}
_NUM_RE = re.compile(NUM)
_LENGTH_RE = re.compile(rf"\s*({NUM})(px)?\s*")
_INT_RE = re.compile(r"-?\d+")
_URL_RE = re.compile(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)(?:\s+(.+))?")
_SIMPLE_SELECTOR = re.compile(r"\*|[A-Za-z][\w-]*|[A-Za-z][\w-]*\.[\w-]+|\.[\w-]+|#[\w-]+")
_RULE_RE = re.compile(r"([^{}]+)\{([^{}]*)\}")


class ModelFormError(ValueError):
    """The SVG cannot be put into the model form; the message says why (shown per example)."""


@dataclass(frozen=True)
class FormSpec:
    """How a model's designs are written: the grid, and the viewBox side its decoded SVGs get."""

    grid: int
    view: float

    def as_dict(self) -> dict[str, object]:
        return {"kind": "model-form", "version": FORM_VERSION, "grid": self.grid, "view": self.view}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> FormSpec | None:
        if not data or data.get("kind") != "model-form":
            return None
        return cls(grid=int(data["grid"]), view=float(data["view"]))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ paint


@dataclass(frozen=True)
class Paint:
    """The paint state as the form writes it (grid units, canonical spellings)."""

    fill: str = "#000000"
    stroke: str = "none"
    sw: str = "1"
    cap: str = "butt"
    join: str = "miter"
    rule: str = "nonzero"
    fop: str = "1"
    sop: str = "1"
    dash: str = "none"

    @property
    def stroked(self) -> bool:
        return self.stroke != "none"


PAINT_KEYS = tuple(f.name for f in fields(Paint))
# Only meaningful while something is stroked: neither written nor compared for unstroked elements.
_STROKE_KEYS = frozenset({"sw", "cap", "join", "sop", "dash"})
_FILL_KEYS = frozenset({"rule", "fop"})
_KEYWORDS = {
    "cap": ("butt", "round", "square"),
    "join": ("miter", "round", "bevel"),
    "rule": ("nonzero", "evenodd"),
}


def _tenths(x: float) -> str:
    return _short(round(max(0.0, min(1.0, x)) * 10) / 10)


def _short(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _length(value: str | None) -> float | None:
    if value is None:
        return None
    m = _LENGTH_RE.fullmatch(value)
    return float(m.group(1)) if m else None


def _fraction(value: str | None) -> float:
    if value is None:
        return 1.0
    v = value.strip()
    try:
        return float(v[:-1]) / 100 if v.endswith("%") else float(v)
    except ValueError:
        return 1.0


# -------------------------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class Encoded:
    text: str
    units: int
    elements: int


class _Encoder:
    def __init__(self, root: ET.Element, grid: int) -> None:
        vb = parse_view_box(root.get("viewBox"))
        if vb is None:
            raise ModelFormError("the <svg> root has no usable viewBox")
        x0, y0, w, h = vb
        side = max(w, h)
        self.grid = grid
        self.scale = grid / side
        # The longer side spans the grid, the shorter one is centred (the default preserveAspectRatio).
        self.base: Matrix = (
            self.scale,
            0.0,
            0.0,
            self.scale,
            ((side - w) / 2 - x0) * self.scale,
            ((side - h) / 2 - y0) * self.scale,
        )
        self.by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
        self.rules = _stylesheet(root)
        self.units: list[str] = []
        self.paint = Paint()
        self.last_was_path = False
        self.elements = 0
        self.depth = 0

    def run(self, root: ET.Element) -> None:
        props = self._cascade(dict(_INITIAL), root, "svg")
        for child in root:
            self._walk(child, self.base, props)

    # style ------------------------------------------------------------------------------------------

    def _own(self, el: ET.Element, tag: str) -> dict[str, str]:
        props = {k: v.strip() for k, v in el.attrib.items() if k in _PROPS}
        for selector, decls in self.rules:  # a stylesheet beats presentation attributes
            if _matches(selector, tag, el):
                props.update({k: v for k, v in decls.items() if k in _PROPS})
        props.update({k: v for k, v in parse_style(el.get("style")).items() if k in _PROPS})
        return props

    def _cascade(self, inherited: dict[str, str], el: ET.Element, tag: str) -> dict[str, str]:
        own = self._own(el, tag)
        props = {k: v for k, v in inherited.items() if k in _INHERITED or k == "_opacity"}
        props.update({k: v for k, v in own.items() if k in _INHERITED and v != "inherit"})
        if "color" in own and own["color"] != "inherit":
            rgb = parse_colour(own["color"])
            props["color"] = hex_colour(rgb) if rgb else inherited.get("color", "black")
        for k in _OWN_ONLY:
            if k in own:
                props[f"_{k}"] = own[k]
        # Opacity is not inherited, but it composes down the tree: carry the product.
        props["_opacity"] = str(_fraction(inherited.get("_opacity")) * _fraction(own.get("opacity")))
        return props

    def _colour(self, value: str, props: dict[str, str]) -> tuple[str, float]:
        """(#rrggbb or "none", alpha) of a paint value."""
        v = value.strip()
        if v.lower() in ("none", "transparent"):
            return "none", 1.0
        if v.lower() == "currentcolor":
            v = props.get("color", "black")
        if m := _URL_RE.fullmatch(v):
            target = self.by_id.get(m.group(1))
            if target is not None and local_name(target.tag) in ("linearGradient", "radialGradient"):
                return self._gradient(target)
            if m.group(2):
                return self._colour(m.group(2), props)
            raise ModelFormError(f"paint {value!r} is neither a colour nor a gradient")
        rgb = parse_colour(v)
        if rgb is None:
            raise ModelFormError(f"paint {value!r} is not a colour")
        return hex_colour(rgb), paint_alpha(v)

    def _gradient(self, grad: ET.Element) -> tuple[str, float]:
        """The mean colour and opacity of a gradient's stops (following href to inherited stops)."""
        for _ in range(8):
            if any(local_name(s.tag) == "stop" for s in grad):
                break
            href = grad.get("href") or ""
            nxt = self.by_id.get(href[1:]) if href.startswith("#") else None
            if nxt is None:
                break
            grad = nxt
        stops = []
        for stop in grad:
            if local_name(stop.tag) != "stop":
                continue
            decls = {**stop.attrib, **parse_style(stop.get("style"))}
            colour = decls.get("stop-color", "black")
            rgb = parse_colour(colour)
            if rgb is not None:
                stops.append((rgb, paint_alpha(colour) * _fraction(decls.get("stop-opacity"))))
        if not stops:
            return "none", 1.0
        mean = tuple(round(sum(s[0][i] for s in stops) / len(stops)) for i in range(3))
        return hex_colour(mean), sum(s[1] for s in stops) / len(stops)  # type: ignore[arg-type]

    def _paint_of(self, props: dict[str, str], stretch: float) -> Paint:
        opacity = _fraction(props.get("_opacity"))
        fill, fill_alpha = self._colour(props.get("fill", "black"), props)
        stroke, stroke_alpha = self._colour(props.get("stroke", "none"), props)
        fop = _fraction(props.get("fill-opacity")) * opacity * fill_alpha
        sop = _fraction(props.get("stroke-opacity")) * opacity * stroke_alpha
        fill = fill if fop >= 0.05 else "none"
        stroke = stroke if sop >= 0.05 else "none"
        paint = {"fill": fill, "stroke": stroke}
        if fill != "none":
            paint["fop"] = _tenths(fop)
            paint["rule"] = _keyword("rule", props.get("fill-rule"))
        if stroke != "none":
            width = _length(props.get("stroke-width", "1"))
            if width is None:
                raise ModelFormError(f"stroke-width {props.get('stroke-width')!r} is not a plain length")
            grid_width = width * stretch * self.scale
            if grid_width <= 0:
                paint["stroke"] = "none"
            else:
                paint["sw"] = _short(max(0.5, round(grid_width * 2) / 2))
                paint["cap"] = _keyword("cap", props.get("stroke-linecap"))
                paint["join"] = _keyword("join", props.get("stroke-linejoin"))
                paint["sop"] = _tenths(sop)
                paint["dash"] = self._dash(props.get("stroke-dasharray"), stretch)
        return Paint(**paint)

    def _dash(self, value: str | None, stretch: float) -> str:
        if value is None or value.strip() in ("none", ""):
            return "none"
        lengths = [_length(t) for t in re.split(r"[\s,]+", value.strip()) if t]
        if any(v is None or v < 0 for v in lengths):
            raise ModelFormError(f"stroke-dasharray {value!r} is not a list of lengths")
        grid = [round(v * stretch * self.scale) for v in lengths if v is not None]
        return ",".join(map(str, grid)) if any(grid) else "none"

    # tree -------------------------------------------------------------------------------------------

    def _walk(self, el: ET.Element, m: Matrix, inherited: dict[str, str]) -> None:
        tag = local_name(el.tag)
        if tag in _NOT_DRAWN:
            return
        props = self._cascade(inherited, el, tag)
        if props.get("_display") == "none":
            return
        if props.get("_mask", "none") != "none":
            raise ModelFormError("masks are not supported")
        if el.get("transform"):
            m = multiply(m, parse_transform(el.get("transform")))
        clip = props.get("_clip-path", "none")
        if clip != "none" and not self._clips_nothing(clip, m):
            raise ModelFormError("clip paths are not supported")
        if tag == "g":
            for child in el:
                self._walk(child, m, props)
        elif tag == "use":
            self._use(el, m, props)
        elif tag in SHAPES:
            if props.get("visibility") not in ("hidden", "collapse"):
                self._shape(tag, el, m, props)
        elif tag in ("text", "tspan"):
            raise ModelFormError("text is not supported")
        else:
            raise ModelFormError(f"<{tag}> is not supported")

    def _clips_nothing(self, clip: str, m: Matrix) -> bool:
        """True for a clip path that is one rectangle covering the whole canvas (exporters add these)."""
        ref = _URL_RE.fullmatch(clip.strip())
        target = self.by_id.get(ref.group(1)) if ref else None
        if target is None:
            return True  # a reference to nothing clips nothing
        shapes = [c for c in target if local_name(c.tag) in SHAPES]
        if len(shapes) != 1 or local_name(shapes[0].tag) != "rect" or shapes[0].get("transform"):
            return False
        x, y, w, h = (_length(shapes[0].get(n, "0")) or 0.0 for n in ("x", "y", "width", "height"))
        corners = [_apply(m, x, y), _apply(m, x + w, y + h)]
        lo = min(c[0] for c in corners), min(c[1] for c in corners)
        hi = max(c[0] for c in corners), max(c[1] for c in corners)
        return lo[0] <= 0.5 and lo[1] <= 0.5 and hi[0] >= self.grid - 0.5 and hi[1] >= self.grid - 0.5

    def _use(self, el: ET.Element, m: Matrix, props: dict[str, str]) -> None:
        href = el.get("href") or ""
        target = self.by_id.get(href[1:]) if href.startswith("#") else None
        if target is None:
            return
        if self.depth >= 8:
            raise ModelFormError("<use> references nest too deeply")
        x, y = (_length(el.get(n, "0")) or 0.0 for n in ("x", "y"))
        m = multiply(m, (1.0, 0.0, 0.0, 1.0, x, y))
        self.depth += 1
        if local_name(target.tag) == "symbol":
            if target.get("viewBox"):
                raise ModelFormError("<symbol> with a viewBox of its own is not supported")
            inner = self._cascade(props, target, "symbol")
            for child in target:
                self._walk(child, m, inner)
        else:
            self._walk(target, m, props)
        self.depth -= 1

    # shapes -----------------------------------------------------------------------------------------

    def _shape(self, tag: str, el: ET.Element, m: Matrix, props: dict[str, str]) -> None:
        det = m[0] * m[3] - m[1] * m[2]
        if det == 0:
            return
        paint = self._paint_of(props, math.sqrt(abs(det)) / self.scale)
        if paint.fill == "none" and not paint.stroked:
            return
        if paint.stroked and _stretch(m) > MAX_STROKE_STRETCH:
            # One width per element cannot draw a stroke that a skew or an uneven scale makes thick one
            # way and thin the other: refused, rather than drawn visibly wrong.
            raise ModelFormError(
                f"a stroked <{tag}> under a transform that stretches it {_stretch(m):.2f}:1 "
                "(a skew or an uneven scale) cannot be expressed"
            )
        units = self._geometry(tag, el, m, paint)
        if not units:
            return
        paint = _relevant(paint, self.paint)
        merge = (
            units[0] == "<path"
            and self.last_was_path
            and paint == self.paint
            and paint.fill == "none"
            and paint.sop == "1"
        )
        self.units += [
            f"{k}:{getattr(paint, k)}" for k in PAINT_KEYS if getattr(paint, k) != getattr(self.paint, k)
        ]
        self.units += units[1:] if merge else units
        self.paint = paint
        self.last_was_path = units[0] == "<path"
        self.elements += 1

    def _geometry(self, tag: str, el: ET.Element, m: Matrix, paint: Paint) -> list[str]:
        if tag == "path":
            segments = parse_path(el.get("d") or "")
            if segments is None:
                raise ModelFormError("path data is not valid")
            return path_units(segments, m)
        if tag == "circle":
            cx, cy, r = self._lengths(el, "cx", "cy", "r")
            return self._ellipse(m, cx, cy, r, r) if r > 0 else []
        if tag == "ellipse":
            cx, cy = self._lengths(el, "cx", "cy")
            # SVG 2: a missing (or `auto`) radius takes the other one's value, as renderers draw it.
            named = {n: el.get(n) for n in ("rx", "ry")}
            for n, other in (("rx", "ry"), ("ry", "rx")):
                if named[n] in (None, "auto") and named[other] not in (None, "auto"):
                    named[n] = named[other]
            rx, ry = (
                self._length_of(el, n, named[n] if named[n] not in (None, "auto") else "0")
                for n in ("rx", "ry")
            )
            return self._ellipse(m, cx, cy, rx, ry) if rx > 0 and ry > 0 else []
        if tag == "rect":
            x, y, w, h = self._lengths(el, "x", "y", "width", "height")
            if w <= 0 or h <= 0:
                return []
            rx, ry = (_length(el.get(n)) if el.get(n) not in (None, "auto") else None for n in ("rx", "ry"))
            rx, ry = (rx if rx is not None else ry or 0.0), (ry if ry is not None else rx or 0.0)
            return self._rect(m, x, y, w, h, min(max(rx, 0.0), w / 2), min(max(ry, 0.0), h / 2))
        if tag == "line":
            x1, y1, x2, y2 = self._lengths(el, "x1", "y1", "x2", "y2")
            return ["<line", *_grid(_apply(m, x1, y1)), *_grid(_apply(m, x2, y2))] if paint.stroked else []
        nums = [float(t) for t in _NUM_RE.findall(el.get("points") or "")]
        points = [_grid(_apply(m, nums[i], nums[i + 1])) for i in range(0, len(nums) - 1, 2)]
        return [f"<{tag}", *(u for p in points for u in p)] if len(points) >= 2 else []

    def _lengths(self, el: ET.Element, *names: str) -> list[float]:
        return [self._length_of(el, name, el.get(name, "0")) for name in names]

    def _length_of(self, el: ET.Element, name: str, text: str) -> float:
        value = _length(text)
        if value is None:
            raise ModelFormError(f"{name}={el.get(name)!r} on <{local_name(el.tag)}> is not a plain length")
        return value

    def _ellipse(self, m: Matrix, cx: float, cy: float, rx: float, ry: float) -> list[str]:
        centre = _grid(_apply(m, cx, cy))
        if _axis_aligned(m) or (_similar(m) and rx == ry):
            if _axis_aligned(m):
                grx, gry = round(abs(rx * m[0])), round(abs(ry * m[3]))
            else:
                grx = gry = round(rx * math.hypot(m[0], m[1]))
            if grx <= 0 or gry <= 0:
                return []
            return ["<circle", *centre, str(grx)] if grx == gry else ["<ellipse", *centre, str(grx), str(gry)]
        # Rotated or skewed: two half arcs on the transformed ellipse.
        half = [
            ("M", [cx - rx, cy]),
            ("A", [rx, ry, 0, 1, 0, cx + rx, cy]),
            ("A", [rx, ry, 0, 1, 0, cx - rx, cy]),
        ]
        return path_units([*half, ("Z", [])], m)

    def _rect(self, m: Matrix, x: float, y: float, w: float, h: float, rx: float, ry: float) -> list[str]:
        if _axis_aligned(m):
            (ax, ay), (bx, by) = _apply(m, x, y), _apply(m, x + w, y + h)
            x0, x1 = sorted((round(ax), round(bx)))
            y0, y1 = sorted((round(ay), round(by)))
            if x0 == x1 or y0 == y1:
                return []
            grx, gry = round(abs(rx * m[0])), round(abs(ry * m[3]))
            box = [str(x0), str(y0), str(x1 - x0), str(y1 - y0)]
            return ["<rrect", *box, str(grx), str(gry)] if grx > 0 and gry > 0 else ["<rect", *box]
        if rx > 0 and ry > 0:
            corner = [rx, ry, 0, 0, 1]
            segments = [
                ("M", [x + rx, y]),
                ("L", [x + w - rx, y]),
                ("A", [*corner, x + w, y + ry]),
                ("L", [x + w, y + h - ry]),
                ("A", [*corner, x + w - rx, y + h]),
                ("L", [x + rx, y + h]),
                ("A", [*corner, x, y + h - ry]),
                ("L", [x, y + ry]),
                ("A", [*corner, x + rx, y]),
            ]
        else:
            segments = [("M", [x, y]), ("L", [x + w, y]), ("L", [x + w, y + h]), ("L", [x, y + h])]
        return path_units([*segments, ("Z", [])], m)


def _keyword(key: str, value: str | None) -> str:
    allowed = _KEYWORDS[key]
    v = (value or allowed[0]).strip().lower()
    return (
        {"miter-clip": "miter", "arcs": "miter"}.get(v, v)
        if v in (*allowed, "miter-clip", "arcs")
        else allowed[0]
    )


def _relevant(paint: Paint, previous: Paint) -> Paint:
    """Keys that do not apply to this element keep the previous values, so they are not written."""
    keep = set()
    if not paint.stroked:
        keep |= _STROKE_KEYS
    if paint.fill == "none":
        keep |= _FILL_KEYS
    if not keep:
        return paint
    return Paint(**{k: getattr(previous if k in keep else paint, k) for k in PAINT_KEYS})


def _stylesheet(root: ET.Element) -> list[tuple[str, dict[str, str]]]:
    """Rules of <style> elements with simple selectors (`*`, `tag`, `.class`, `tag.class`, `#id`)."""
    rules: list[tuple[str, dict[str, str]]] = []
    for el in root.iter():
        if local_name(el.tag) != "style" or not el.text:
            continue
        for selectors, body in _RULE_RE.findall(el.text):
            decls = {k: v.replace("!important", "").strip() for k, v in parse_style(body).items()}
            for selector in (s.strip() for s in selectors.split(",")):
                if not _SIMPLE_SELECTOR.fullmatch(selector):
                    raise ModelFormError(f"the CSS selector {selector!r} is not supported")
                rules.append((selector, decls))
    return rules


def _matches(selector: str, tag: str, el: ET.Element) -> bool:
    if selector == "*":
        return True
    if selector.startswith("#"):
        return el.get("id") == selector[1:]
    classes = (el.get("class") or "").split()
    if selector.startswith("."):
        return selector[1:] in classes
    name, _, cls = selector.partition(".")
    return name == tag and (not cls or cls in classes)


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _axis_aligned(m: Matrix) -> bool:
    return abs(m[1]) < 1e-9 and abs(m[2]) < 1e-9


def _similar(m: Matrix) -> bool:
    """A rotation and uniform scale (no mirror, no skew): circles stay circles."""
    a, b, c, d = m[:4]
    return math.isclose(a, d, abs_tol=1e-9) and math.isclose(b, -c, abs_tol=1e-9)


def _grid(p: tuple[float, float]) -> tuple[str, str]:
    return str(round(p[0])), str(round(p[1]))


def path_units(segments: Sequence[tuple[str, list[float]]], m: Matrix = IDENTITY) -> list[str]:
    """`<path` and its absolute commands on the grid (`m` maps user space onto it), or [] if it draws
    nothing but movetos."""
    out: list[str] = []
    cur = start = (0.0, 0.0)  # user space
    g_cur = g_start = (0, 0)  # grid
    ctrl: tuple[float, float] | None = None  # the last control point, for S/T reflection
    g_ctrl: tuple[int, int] | None = None
    last = ""  # "C" or "Q" when the previous segment was a curve of that kind

    def grid(p: tuple[float, float]) -> tuple[int, int]:
        x, y = _apply(m, *p)
        return round(x), round(y)

    def numbers(*points: tuple[int, int]) -> list[str]:
        return [str(v) for p in points for v in p]

    for cmd, args in segments:
        kind = cmd.upper()
        ox, oy = cur if cmd.islower() else (0.0, 0.0)
        if kind == "M":
            cur = start = (args[0] + ox, args[1] + oy)
            g_cur = g_start = grid(cur)
            out += ["M", *numbers(g_cur)]
            ctrl, g_ctrl, last = None, None, ""
            continue
        if not out:
            raise ModelFormError("path data must start with a moveto")
        if kind == "Z":
            out.append("Z")
            cur, g_cur, ctrl, g_ctrl, last = start, g_start, None, None, ""
            continue
        if kind in "LHV":
            p = (
                (args[0] + ox, args[1] + oy)
                if kind == "L"
                else (args[0] + ox, cur[1])
                if kind == "H"
                else (cur[0], args[0] + oy)
            )
            g = grid(p)
            if g[1] == g_cur[1] and g[0] != g_cur[0]:
                out += ["H", str(g[0])]
            elif g[0] == g_cur[0] and g[1] != g_cur[1]:
                out += ["V", str(g[1])]
            else:
                out += ["L", *numbers(g)]  # a zero-length segment too: with round caps it draws a dot
            cur, g_cur, ctrl, g_ctrl, last = p, g, None, None, ""
        elif kind in "CS":
            if kind == "C":
                c1, rest = (args[0] + ox, args[1] + oy), args[2:]
            else:
                c1 = (2 * cur[0] - ctrl[0], 2 * cur[1] - ctrl[1]) if last == "C" and ctrl else cur
                rest = args
            c2, p = (rest[0] + ox, rest[1] + oy), (rest[2] + ox, rest[3] + oy)
            g1, g2, g = grid(c1), grid(c2), grid(p)
            mirror = (2 * g_cur[0] - g_ctrl[0], 2 * g_cur[1] - g_ctrl[1]) if last == "C" and g_ctrl else g_cur
            out += ["S", *numbers(g2, g)] if g1 == mirror else ["C", *numbers(g1, g2, g)]
            cur, g_cur, ctrl, g_ctrl, last = p, g, c2, g2, "C"
        elif kind in "QT":
            if kind == "Q":
                c1, p = (args[0] + ox, args[1] + oy), (args[2] + ox, args[3] + oy)
            else:
                c1 = (2 * cur[0] - ctrl[0], 2 * cur[1] - ctrl[1]) if last == "Q" and ctrl else cur
                p = (args[0] + ox, args[1] + oy)
            g1, g = grid(c1), grid(p)
            mirror = (2 * g_cur[0] - g_ctrl[0], 2 * g_cur[1] - g_ctrl[1]) if last == "Q" and g_ctrl else g_cur
            out += ["T", *numbers(g)] if g1 == mirror else ["Q", *numbers(g1, g)]
            cur, g_cur, ctrl, g_ctrl, last = p, g, c1, g1, "Q"
        else:  # A
            p = (args[5] + ox, args[6] + oy)
            out += _arc_units(m, cur, g_cur, args, p, grid(p))
            cur, g_cur, ctrl, g_ctrl, last = p, grid(p), None, None, ""
    drawn = any(u not in ("M", "Z") and not _INT_RE.fullmatch(u) for u in out)
    return ["<path", *out] if drawn else []


def _arc_units(
    m: Matrix,
    cur: tuple[float, float],
    g_cur: tuple[int, int],
    args: list[float],
    p: tuple[float, float],
    g: tuple[int, int],
) -> list[str]:
    if g == g_cur:
        return []  # an arc to its own start draws nothing
    rx, ry, phi = abs(args[0]), abs(args[1]), args[2]
    large, sweep = int(args[3]), int(args[4])
    if rx == 0 or ry == 0:
        return ["L", str(g[0]), str(g[1])]
    rx, ry = _reachable_radii(cur, p, rx, ry, phi)
    nrx, nry, nphi = transform_ellipse(m, rx, ry, phi)
    if m[0] * m[3] - m[1] * m[2] < 0:
        sweep = 1 - sweep  # a mirror reverses the direction of travel
    if math.isclose(nrx, nry, rel_tol=1e-6):
        r = _stable_radius(_apply(m, *cur), nrx, large, sweep, _apply(m, *p), g_cur, g)
        return [f"R{large}{sweep}", str(r), str(g[0]), str(g[1])]
    grx, gry = round(nrx), round(nry)
    if grx == 0 or gry == 0:
        return ["L", str(g[0]), str(g[1])]
    return [f"A{large}{sweep}", str(grx), str(gry), str(round(nphi) % 180), str(g[0]), str(g[1])]


# How unevenly a transform may scale a stroked element (its larger over its smaller singular value)
# before the one stroke width the form writes is too far from what a renderer draws.
MAX_STROKE_STRETCH = 1.25


def _stretch(m: Matrix) -> float:
    """The ratio of the linear part's singular values (1 for rotations, mirrors and uniform scales)."""
    a, b, c, d = m[0], m[1], m[2], m[3]
    total = a * a + b * b + c * c + d * d
    det = abs(a * d - b * c)
    root = math.sqrt(max(total * total / 4 - det * det, 0.0))
    big, small = math.sqrt(total / 2 + root), math.sqrt(max(total / 2 - root, 0.0))
    return big / small if small > 0 else math.inf


def _reachable_radii(
    a: tuple[float, float], b: tuple[float, float], rx: float, ry: float, phi: float
) -> tuple[float, float]:
    """SVG's rule for arc radii too small to join the ends (SVG 1.1, F.6.6): both are scaled up until
    they just do, so renderers draw a half ellipse where the radii alone would round to nothing."""
    c, s = math.cos(math.radians(phi)), math.sin(math.radians(phi))
    dx, dy = (a[0] - b[0]) / 2, (a[1] - b[1]) / 2
    x1, y1 = c * dx + s * dy, -s * dx + c * dy
    reach = (x1 / rx) ** 2 + (y1 / ry) ** 2
    return (rx * math.sqrt(reach), ry * math.sqrt(reach)) if reach > 1 else (rx, ry)


def _stable_radius(
    a: tuple[float, float],
    r: float,
    large: int,
    sweep: int,
    b: tuple[float, float],
    ga: tuple[int, int],
    gb: tuple[int, int],
) -> int:
    """The grid radius whose arc between the rounded ends passes nearest the original arc's midpoint.

    Rounding the radius alone is unstable near a half circle, where the bulge changes fast with the
    radius; so the radii around it (and the half circle itself) are tried against the arc that was meant.
    """
    target = arc_midpoint(a[0], a[1], r, r, 0.0, bool(large), bool(sweep), b[0], b[1])
    half = math.dist(ga, gb) / 2
    candidates = {max(1, c) for c in range(math.floor(r) - 2, math.ceil(r) + 3)} | {max(1, math.floor(half))}

    def miss(c: int) -> float:
        mid = arc_midpoint(ga[0], ga[1], c, c, 0.0, bool(large), bool(sweep), gb[0], gb[1])
        return math.dist(mid, target) + 1e-6 * abs(c - r)

    return min(sorted(candidates), key=miss)


def encode(svg_text: str | bytes, grid: int) -> Encoded:
    """The model form of an SVG on a `grid`. Raises SvgError (unsafe or malformed) or ModelFormError."""
    if grid < 2:
        raise ValueError("grid must be at least 2")
    root = parse_svg(svg_text)
    sanitise_tree(root)
    encoder = _Encoder(root, grid)
    encoder.run(root)
    if not encoder.elements:
        raise ModelFormError("it draws nothing the model form can express")
    return Encoded(text=" ".join(encoder.units), units=len(encoder.units), elements=encoder.elements)


def try_encode(svg_text: str | bytes, grid: int) -> tuple[Encoded | None, str]:
    """(the form, "") or (None, why not): for reporting per example."""
    try:
        return encode(svg_text, grid), ""
    except (ModelFormError, SvgError) as exc:
        return None, str(exc)


def form_units(grid: int) -> list[str]:
    """Every unit a form on this grid can use apart from colours, dashes and far-off coordinates: what a
    tokenizer should hold as single tokens."""
    numbers = [str(n) for n in range(-grid // 2, grid + grid // 2 + 1)]
    paint = [f"{k}:{v}" for k, values in _KEYWORDS.items() for v in values]
    paint += [f"{k}:{_tenths(t / 10)}" for k in ("fop", "sop") for t in range(11)]
    paint += [f"sw:{_short(h / 2)}" for h in range(1, 4 * grid + 1)]
    paint += ["fill:none", "stroke:none", "dash:none", "fill:#000000", "stroke:#000000"]
    return [*ELEMENT_UNITS, *PATH_COMMANDS, *ARC_COMMANDS, *paint, *numbers]


# -------------------------------------------------------------------------------------------- decoding

_SVG_DEFAULTS = {
    "fill": "#000000",
    "fill-rule": "nonzero",
    "fill-opacity": "1",
    "stroke": "none",
    "stroke-width": "1",
    "stroke-linecap": "butt",
    "stroke-linejoin": "miter",
    "stroke-opacity": "1",
    "stroke-dasharray": "none",
}
_ELEMENT_ARITY = {"circle": 3, "ellipse": 4, "rect": 4, "rrect": 6, "line": 4}
_COMMAND_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0, "R": 3, "A": 5}
_PAINT_VALUE = {
    "fill": re.compile(r"none|#[0-9a-f]{6}"),
    "stroke": re.compile(r"none|#[0-9a-f]{6}"),
    "sw": re.compile(r"\d+(?:\.5)?"),
    "cap": re.compile("butt|round|square"),
    "join": re.compile("miter|round|bevel"),
    "rule": re.compile("nonzero|evenodd"),
    "fop": re.compile(r"0(?:\.\d)?|1"),
    "sop": re.compile(r"0(?:\.\d)?|1"),
    "dash": re.compile(r"none|\d+(?:,\d+)*"),
}


@dataclass
class Decoded:
    svg: str
    elements: int
    dropped: list[str] = field(default_factory=list)  # what was malformed, for the design's metadata


def decode(text: str, spec: FormSpec) -> Decoded:
    """Clean SVG from a model-form text; malformed pieces are dropped and listed, never raised."""
    k = spec.view / spec.grid
    units = text.split()
    paint = Paint()
    elements: list[tuple[str, dict[str, str], dict[str, str]]] = []
    dropped: list[str] = []
    i = 0
    while i < len(units):
        unit = units[i]
        key, colon, value = unit.partition(":")
        if colon:
            if key in _PAINT_VALUE and _PAINT_VALUE[key].fullmatch(value):
                paint = Paint(**{**{f: getattr(paint, f) for f in PAINT_KEYS}, key: value})
            else:
                dropped.append(f"unknown paint {unit!r}")
            i += 1
            continue
        if not unit.startswith("<"):
            dropped.append(f"stray {unit!r}")
            i += 1
            continue
        j = i + 1
        if unit == "<path":
            while j < len(units) and not units[j].startswith("<") and ":" not in units[j]:
                j += 1
        else:  # a shape's numbers; whatever follows them is stray
            while j < len(units) and _INT_RE.fullmatch(units[j]):
                j += 1
        element = _element(unit[1:], units[i + 1 : j], k)
        i = j
        if element is None:
            dropped.append(f"malformed {unit}")
        else:
            elements.append((element[0], element[1], _paint_attributes(paint, k)))
    shared = {}
    if elements:
        shared = {a: v for a, v in elements[0][2].items() if all(e[2].get(a) == v for e in elements)}
    view = _short(spec.view)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {view} {view}"']
    out += [f' {a}="{v}"' for a, v in shared.items()]
    out.append(">")
    for tag, geometry, attrs in elements:
        own = {a: v for a, v in attrs.items() if a not in shared}
        own.update({a: _SVG_DEFAULTS[a] for a in shared if a not in attrs})  # reset what the root set
        out.append(f"<{tag}" + "".join(f' {a}="{v}"' for a, v in {**geometry, **own}.items()) + "/>")
    out.append("</svg>")
    return Decoded(svg="".join(out), elements=len(elements), dropped=dropped)


def _paint_attributes(p: Paint, k: float) -> dict[str, str]:
    attrs = {"fill": p.fill}
    if p.fill != "none":
        attrs.update({"fill-rule": p.rule, "fill-opacity": p.fop})
    if p.stroked:
        attrs.update(
            {
                "stroke": p.stroke,
                "stroke-width": _short(float(p.sw) * k),
                "stroke-linecap": p.cap,
                "stroke-linejoin": p.join,
                "stroke-opacity": p.sop,
            }
        )
        if p.dash != "none":
            attrs["stroke-dasharray"] = " ".join(_short(int(v) * k) for v in p.dash.split(","))
    return {a: v for a, v in attrs.items() if a in ("fill",) or v != _SVG_DEFAULTS.get(a)}


def _element(tag: str, body: list[str], k: float) -> tuple[str, dict[str, str]] | None:
    if tag == "path":
        d = _path_data(body, k)
        return ("path", {"d": d}) if d else None
    if not body or not all(_INT_RE.fullmatch(b) for b in body):
        return None
    v = [int(b) * k for b in body]
    if tag in _ELEMENT_ARITY:
        if len(v) != _ELEMENT_ARITY[tag]:
            return None
        s = [_short(x) for x in v]
        if tag == "circle":
            return ("circle", {"cx": s[0], "cy": s[1], "r": s[2]}) if v[2] > 0 else None
        if tag == "ellipse":
            return (
                ("ellipse", {"cx": s[0], "cy": s[1], "rx": s[2], "ry": s[3]})
                if v[2] > 0 and v[3] > 0
                else None
            )
        if tag == "line":
            return ("line", {"x1": s[0], "y1": s[1], "x2": s[2], "y2": s[3]})
        if v[2] <= 0 or v[3] <= 0:
            return None
        rect = {"x": s[0], "y": s[1], "width": s[2], "height": s[3]}
        return ("rect", {**rect, "rx": s[4], "ry": s[5]} if tag == "rrect" else rect)
    if tag in ("polyline", "polygon"):
        v = v[: len(v) - len(v) % 2]
        if len(v) < 4:
            return None
        return (tag, {"points": " ".join(f"{_short(v[i])},{_short(v[i + 1])}" for i in range(0, len(v), 2))})
    return None


def _path_data(body: list[str], k: float) -> str:
    out: list[str] = []
    i = 0
    previous = ""
    while i < len(body):
        cmd = body[i]
        if _INT_RE.fullmatch(cmd) and previous and previous != "Z":
            # Numbers after a full set of arguments repeat the command, as in SVG (after M: L).
            cmd, i = ("L" if previous == "M" else previous), i - 1
        kind = cmd[0] if cmd in ARC_COMMANDS else cmd
        if kind not in _COMMAND_ARITY or (not out and kind != "M"):
            break  # no moveto first, or something that is no command: the rest is unusable
        args = body[i + 1 : i + 1 + _COMMAND_ARITY[kind]]
        if len(args) < _COMMAND_ARITY[kind] or not all(_INT_RE.fullmatch(a) for a in args):
            break
        i += 1 + len(args)
        previous = cmd
        n = [int(a) for a in args]
        flags = f"{cmd[1]} {cmd[2]}" if kind in "RA" else ""
        if kind == "R":
            r = _short(n[0] * k)
            out.append(f"A{r} {r} 0 {flags} {_short(n[1] * k)} {_short(n[2] * k)}")
        elif kind == "A":
            rx, ry, x, y = (_short(n[j] * k) for j in (0, 1, 3, 4))
            out.append(f"A{rx} {ry} {n[2]} {flags} {x} {y}")
        else:
            out.append(kind + " ".join(_short(v * k) for v in n))
    return "".join(out) if any(not s.startswith(("M", "Z")) for s in out) else ""


def units_of(texts: Iterable[str]) -> set[str]:
    """The distinct units of some forms (for a tokenizer's vocabulary)."""
    return {u for t in texts for u in t.split()}


# ------------------------------------------------------------------------------------- choosing a grid

GRID_MAX_L2 = 0.002  # mean pixel L2 at 64 px a round trip may cost (README: measured per icon set)
GRID_STEPS = (1, 2, 4, 8)
FALLBACK_GRIDS = (32, 64, 128, 256)


@dataclass(frozen=True)
class GridChoice:
    spec: FormSpec
    round_trip_l2: float  # mean over the sample, at 64 px
    sample: int
    tried: dict[int, float]  # grid -> mean L2


def choose_grid(svgs: Sequence[str], *, max_l2: float = GRID_MAX_L2, sample: int = 200) -> GridChoice:
    """The coarsest grid whose round trip keeps the drawings (mean L2 at 64 px within `max_l2`).

    Candidates are multiples of the set's usual viewBox side (24 → 24, 48, 96, 192: its integer
    coordinates stay exact), or powers of two when it has none. Decoded designs get that usual side as
    their viewBox, so they fit beside the set's own icons.
    """
    from core.svg.compare import pixel_l2, try_rasterise

    picked = list(svgs)
    if len(picked) > sample:
        step = len(picked) / sample
        picked = [picked[int(i * step)] for i in range(sample)]
    sides = []
    for svg in picked:
        try:
            vb = parse_view_box(parse_svg(svg).get("viewBox"))
        except SvgError:
            continue
        if vb is not None:
            sides.append(max(vb[2], vb[3]))
    usual = max(set(sides), key=sides.count) if sides else 0.0
    whole = usual.is_integer() and 8 <= usual <= 512
    grids = [int(usual) * k for k in GRID_STEPS] if whole else list(FALLBACK_GRIDS)
    view = usual if whole else float(FALLBACK_GRIDS[-1])
    originals = [(svg, try_rasterise(svg)) for svg in picked]
    originals = [(svg, r) for svg, r in originals if r is not None]
    tried: dict[int, float] = {}
    for grid in grids:
        spec = FormSpec(grid=grid, view=view if whole else float(grid))
        losses = []
        for svg, original in originals:
            encoded, _ = try_encode(svg, grid)
            if encoded is None:
                continue
            decoded = try_rasterise(decode(encoded.text, spec).svg)
            if decoded is not None:
                losses.append(pixel_l2(original, decoded))
        tried[grid] = sum(losses) / len(losses) if losses else 1.0
        if tried[grid] <= max_l2:
            return GridChoice(spec, tried[grid], len(losses), tried)
    best = min(tried, key=tried.__getitem__)
    return GridChoice(
        FormSpec(grid=best, view=view if whole else float(best)), tried[best], len(originals), tried
    )
