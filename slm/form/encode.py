"""Encoding an SVG into the model form: the tree walk (groups, <use>, clips, what is not drawn), shapes
and their geometry on the grid, paint written only where it changes."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from core.svg.geometry import Matrix, multiply, parse_transform
from core.svg.inherit import INITIAL
from core.svg.numbers import NUM
from core.svg.parse import SvgError, parse_svg, parse_view_box
from core.svg.path_data import parse_path
from core.svg.sanitise import sanitise_tree
from core.svg.style import local_name
from slm.form.compact import compact
from slm.form.paint import URL_RE, Styles, relevant
from slm.form.paths import MAX_STROKE_STRETCH, apply, grid_point, path_units, stretch
from slm.form.shapes import ellipse_units, rect_units
from slm.form.spec import MAX_GRID_VALUE, PAINT_KEYS, SHAPES, FormSpec, ModelFormError, Paint, length

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
_NUM_RE = re.compile(NUM)
MAX_VISITS = 50_000  # elements walked per document, <use> copies included (validate caps 20,000 written)


@dataclass(frozen=True)
class Encoded:
    text: str
    units: int
    elements: int


def _finite(m: Matrix, what: str) -> Matrix:
    if not all(math.isfinite(v) and abs(v) <= MAX_GRID_VALUE for v in m):
        raise ModelFormError(f"{what} maps the drawing out of range")
    return m


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
        _finite(self.base, "the viewBox")
        self.styles = Styles(root, self.scale)
        self.visited = 0
        self.units: list[str] = []
        self.paint = Paint()
        self.last_was_path = False
        self.elements = 0
        self.depth = 0

    def run(self, root: ET.Element) -> None:
        props = self.styles.cascade(dict(INITIAL), root, "svg")
        for child in root:
            self._walk(child, self.base, props)

    def _walk(self, el: ET.Element, m: Matrix, inherited: dict[str, str]) -> None:
        tag = local_name(el.tag)
        if tag in _NOT_DRAWN:
            return
        self.visited += 1
        if self.visited > MAX_VISITS:  # <use> can multiply a small document into a huge drawing
            raise ModelFormError(f"it draws more than {MAX_VISITS} elements (counting <use> copies)")
        props = self.styles.cascade(inherited, el, tag)
        if props.get("display") == "none":
            return
        if props.get("mask", "none") != "none":
            raise ModelFormError("masks are not supported")
        if el.get("transform"):
            m = _finite(multiply(m, parse_transform(el.get("transform"))), "a transform")
        clip = props.get("clip-path", "none")
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
        ref = URL_RE.fullmatch(clip.strip())
        target = self.styles.by_id.get(ref.group(1)) if ref else None
        if target is None:
            return True  # a reference to nothing clips nothing
        shapes = [c for c in target if local_name(c.tag) in SHAPES]
        if len(shapes) != 1 or local_name(shapes[0].tag) != "rect" or shapes[0].get("transform"):
            return False
        x, y, w, h = (length(shapes[0].get(n, "0")) or 0.0 for n in ("x", "y", "width", "height"))
        corners = [apply(m, x, y), apply(m, x + w, y + h)]
        lo = min(c[0] for c in corners), min(c[1] for c in corners)
        hi = max(c[0] for c in corners), max(c[1] for c in corners)
        return lo[0] <= 0.5 and lo[1] <= 0.5 and hi[0] >= self.grid - 0.5 and hi[1] >= self.grid - 0.5

    def _use(self, el: ET.Element, m: Matrix, props: dict[str, str]) -> None:
        href = el.get("href") or ""
        target = self.styles.by_id.get(href[1:]) if href.startswith("#") else None
        if target is None:
            return
        if self.depth >= 8:
            raise ModelFormError("<use> references nest too deeply")
        x, y = (length(el.get(n, "0")) or 0.0 for n in ("x", "y"))
        m = _finite(multiply(m, (1.0, 0.0, 0.0, 1.0, x, y)), "a <use> offset")
        self.depth += 1
        if local_name(target.tag) == "symbol":
            if target.get("viewBox"):
                raise ModelFormError("<symbol> with a viewBox of its own is not supported")
            inner = self.styles.cascade(props, target, "symbol")
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
        paint = self.styles.paint_of(props, math.sqrt(abs(det)) / self.scale)
        if paint.fill == "none" and not paint.stroked:
            return
        if paint.stroked and stretch(m) > MAX_STROKE_STRETCH:
            # One width per element cannot draw a stroke that a skew or an uneven scale makes thick one
            # way and thin the other: refused, rather than drawn visibly wrong.
            raise ModelFormError(
                f"a stroked <{tag}> under a transform that stretches it {stretch(m):.2f}:1 "
                "(a skew or an uneven scale) cannot be expressed"
            )
        units = self._geometry(tag, el, m, paint)
        if not units:
            return
        paint = relevant(paint, self.paint)
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
            return ellipse_units(m, cx, cy, r, r) if r > 0 else []
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
            return ellipse_units(m, cx, cy, rx, ry) if rx > 0 and ry > 0 else []
        if tag == "rect":
            x, y, w, h = self._lengths(el, "x", "y", "width", "height")
            if w <= 0 or h <= 0:
                return []
            rx, ry = (length(el.get(n)) if el.get(n) not in (None, "auto") else None for n in ("rx", "ry"))
            rx, ry = (rx if rx is not None else ry or 0.0), (ry if ry is not None else rx or 0.0)
            return rect_units(m, x, y, w, h, min(max(rx, 0.0), w / 2), min(max(ry, 0.0), h / 2))
        if tag == "line":
            x1, y1, x2, y2 = self._lengths(el, "x1", "y1", "x2", "y2")
            return (
                ["<line", *grid_point(apply(m, x1, y1)), *grid_point(apply(m, x2, y2))]
                if paint.stroked
                else []
            )
        nums = [float(t) for t in _NUM_RE.findall(el.get("points") or "")]
        points = [grid_point(apply(m, nums[i], nums[i + 1])) for i in range(0, len(nums) - 1, 2)]
        return [f"<{tag}", *(u for p in points for u in p)] if len(points) >= 2 else []

    def _lengths(self, el: ET.Element, *names: str) -> list[float]:
        return [self._length_of(el, name, el.get(name, "0")) for name in names]

    def _length_of(self, el: ET.Element, name: str, text: str) -> float:
        value = length(text)
        if value is None:
            raise ModelFormError(f"{name}={el.get(name)!r} on <{local_name(el.tag)}> is not a plain length")
        return value


def encode(svg_text: str | bytes, form: FormSpec | int) -> Encoded:
    """The model form of an SVG (on a grid given as a number: the current version). Raises SvgError
    (unsafe or malformed) or ModelFormError (what the form cannot express, or numbers out of range)."""
    spec = FormSpec.of(form)
    if spec.grid < 2:
        raise ValueError("grid must be at least 2")
    root = parse_svg(svg_text)
    sanitise_tree(root)
    try:
        encoder = _Encoder(root, spec.grid)
        encoder.run(root)
    except (ModelFormError, SvgError):
        raise
    except (ArithmeticError, ValueError) as exc:
        # A number the checks above did not foresee (an overflow, a NaN): this example is refused with
        # the reason like any other, never the whole batch or training run it is part of.
        raise ModelFormError(f"a value is out of range ({exc})") from exc
    if not encoder.elements:
        raise ModelFormError("it draws nothing the model form can express")
    units = compact(encoder.units) if spec.version >= 2 else encoder.units
    return Encoded(text=" ".join(units), units=len(units), elements=encoder.elements)


def try_encode(svg_text: str | bytes, form: FormSpec | int) -> tuple[Encoded | None, str]:
    """(the form, "") or (None, why not): for reporting per example."""
    try:
        return encode(svg_text, form), ""
    except (ModelFormError, SvgError) as exc:
        return None, str(exc)
