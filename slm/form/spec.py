"""The model form: the short, canonical text a design model reads and writes instead of SVG, and its
decoding back into clean SVG. This module holds what every part shares: the spec (grid, view, version),
the units, the paint state.

One design is one line of space-separated units. Version 1, as written here (version 2, the current one,
writes the same drawing with a point a unit: slm.form.compact):
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

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

from core.svg.numbers import NUM

FORM_VERSION = 2  # what new snapshots get; every version in FORM_VERSIONS still decodes
FORM_VERSIONS = (1, 2)  # 1: one unit per integer; 2: one unit per point (slm.form.compact)
SHAPES = ("path", "circle", "ellipse", "rect", "line", "polyline", "polygon")
ELEMENT_UNITS = ("<path", "<circle", "<ellipse", "<rect", "<rrect", "<line", "<polyline", "<polygon")
PATH_COMMANDS = ("M", "L", "H", "V", "C", "S", "Q", "T", "Z")
ARC_COMMANDS = tuple(f"{kind}{large}{sweep}" for kind in "RA" for large in "01" for sweep in "01")
INT_RE = re.compile(r"-?\d{1,9}")  # longer is no grid value (and int() of 4,300+ digits raises)
POINT_RE = re.compile(r"(-?\d{1,9}),(-?\d{1,9})")  # form version 2's `x,y` (slm.form.compact)
_LENGTH_RE = re.compile(rf"\s*({NUM})(px)?\s*")


class ModelFormError(ValueError):
    """The SVG cannot be put into the model form; the message says why (shown per example)."""


@dataclass(frozen=True)
class FormSpec:
    """How a model's designs are written: the grid, the viewBox side its decoded SVGs get, and the form's
    version (recorded with every model, so a model keeps decoding after the form changes)."""

    grid: int
    view: float
    version: int = FORM_VERSION

    def as_dict(self) -> dict[str, object]:
        return {"kind": "model-form", "version": self.version, "grid": self.grid, "view": self.view}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> FormSpec | None:
        if not data or data.get("kind") != "model-form":
            return None
        version = int(data.get("version", 1))  # type: ignore[call-overload]
        if version not in FORM_VERSIONS:
            raise ValueError(f"model form version {version} is newer than this code reads {FORM_VERSIONS}")
        return cls(grid=int(data["grid"]), view=float(data["view"]), version=version)  # type: ignore[arg-type]

    @classmethod
    def of(cls, form: FormSpec | int) -> FormSpec:
        """A spec as given, or the current version's on a grid given as a number."""
        return form if isinstance(form, FormSpec) else cls(grid=form, view=float(form))


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
STROKE_KEYS = frozenset({"sw", "cap", "join", "sop", "dash"})
FILL_KEYS = frozenset({"rule", "fop"})
KEYWORDS = {
    "cap": ("butt", "round", "square"),
    "join": ("miter", "round", "bevel"),
    "rule": ("nonzero", "evenodd"),
}


def tenths(x: float) -> str:
    return short(round(max(0.0, min(1.0, x)) * 10) / 10)


# Past this many grid units from the origin a value draws nothing an icon needs; refusing it also keeps
# every number the encoder writes finite and short (an overflowing or NaN value anywhere ends here).
MAX_GRID_VALUE = 1_000_000


def to_int(v: float, what: str = "a coordinate") -> int:
    """`v` rounded onto the grid, or ModelFormError if it is not finite or lies absurdly far out."""
    if not abs(v) <= MAX_GRID_VALUE:  # NaN fails this too
        raise ModelFormError(f"{what} of {v:g} grid units is out of range")
    return round(v)


def short(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def length(value: str | None) -> float | None:
    if value is None:
        return None
    m = _LENGTH_RE.fullmatch(value)
    return float(m.group(1)) if m else None


def form_units(form: FormSpec | int) -> list[str]:
    """Every unit a form on this grid can use apart from colours, dashes, far-off coordinates and (version
    2) points: what a tokenizer should hold as single tokens. Points come from the training forms
    (`units_of`): all of a grid's would be (grid + 1)² tokens (9,409 at 96), most never drawn in a set and
    so never trained."""
    grid = FormSpec.of(form).grid
    numbers = [str(n) for n in range(-grid // 2, grid + grid // 2 + 1)]
    paint = [f"{k}:{v}" for k, values in KEYWORDS.items() for v in values]
    paint += [f"{k}:{tenths(t / 10)}" for k in ("fop", "sop") for t in range(11)]
    paint += [f"sw:{short(h / 2)}" for h in range(1, 4 * grid + 1)]
    paint += ["fill:none", "stroke:none", "dash:none", "fill:#000000", "stroke:#000000"]
    return [*ELEMENT_UNITS, *PATH_COMMANDS, *ARC_COMMANDS, *paint, *numbers]


def opening_units(units: Iterable[str]) -> list[str]:
    """Those of `units` a design's text can begin with: paint and elements, never a number or a point
    (a tokenizer holds only these without a leading space: slm.tokenizer.train_tokenizer)."""
    return [u for u in units if not INT_RE.fullmatch(u) and not POINT_RE.fullmatch(u)]


def units_of(texts: Iterable[str]) -> set[str]:
    """The distinct units of some forms (for a tokenizer's vocabulary)."""
    return {u for t in texts for u in t.split()}
