"""A synthetic compositional design corpus: prompt -> short canonical SVG, deterministic from a seed.

The grammar is deliberately small and regular so a tiny model can learn it in minutes on a CPU, and so
`adherence.py` can parse any prompt back to its spec. No torch here: Django code imports this module.

Prompt grammar (one or two groups joined by " and "):
    <count> <size> <colour> [outlined] <shape>[s] at the <position>
    e.g. "two small red circles at the top left and a large blue outlined square at the center"
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

VIEWBOX = 96
CELL = VIEWBOX // 3
SVG_OPEN = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {VIEWBOX} {VIEWBOX}">'
SVG_CLOSE = "</svg>"
OUTLINE_WIDTH = 2

# Well separated hues so "nearest palette colour" is unambiguous.
PALETTE: dict[str, str] = {
    "red": "#e53935",
    "orange": "#fb8c00",
    "yellow": "#fdd835",
    "green": "#43a047",
    "teal": "#00897b",
    "blue": "#1e88e5",
    "purple": "#8e24aa",
    "pink": "#f06292",
    "brown": "#6d4c41",
    "black": "#212121",
}
SHAPES: tuple[str, ...] = ("circle", "square", "rectangle", "ellipse", "triangle", "diamond", "star")
PLURALS: dict[str, str] = {s: ("ellipses" if s == "ellipse" else s + "s") for s in SHAPES}
# Half-extent of one object, in viewBox units.
SIZES: dict[str, int] = {"small": 3, "medium": 5, "large": 7}
# Grid cell (column, row) of each position name.
POSITIONS: dict[str, tuple[int, int]] = {
    "top left": (0, 0),
    "top": (1, 0),
    "top right": (2, 0),
    "left": (0, 1),
    "center": (1, 1),
    "right": (2, 1),
    "bottom left": (0, 2),
    "bottom": (1, 2),
    "bottom right": (2, 2),
}
COUNT_WORDS: dict[int, str] = {1: "a", 2: "two", 3: "three"}
STYLES: tuple[str, ...] = ("filled", "outlined")
# Offsets of each object from the cell centre, by count: chosen so that large objects stay inside
# their 32x32 cell and barely overlap.
LAYOUTS: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((0, 0),),
    2: ((-8, 0), (8, 0)),
    3: ((0, -7), (-8, 6), (8, 6)),
}


@dataclass(frozen=True)
class ObjectSpec:
    """One group of identical objects: "two small red circles at the top left"."""

    shape: str
    colour: str
    size: str
    position: str
    count: int = 1
    style: str = "filled"

    def phrase(self) -> str:
        noun = self.shape if self.count == 1 else PLURALS[self.shape]
        style = "outlined " if self.style == "outlined" else ""
        return f"{COUNT_WORDS[self.count]} {self.size} {self.colour} {style}{noun} at the {self.position}"


@dataclass(frozen=True)
class DesignSpec:
    objects: tuple[ObjectSpec, ...]

    @property
    def prompt(self) -> str:
        return " and ".join(o.phrase() for o in self.objects)

    def to_dict(self) -> dict[str, Any]:
        return {"objects": [asdict(o) for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignSpec:
        return cls(objects=tuple(ObjectSpec(**o) for o in data["objects"]))


@dataclass(frozen=True)
class SyntheticExample:
    prompt: str
    svg: str
    spec: DesignSpec

    def to_row(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "svg": self.svg, "spec": self.spec.to_dict()}


@dataclass(frozen=True)
class Holdout:
    """What training must never see: exact prompts, and (shape, colour) pairs anywhere in a design."""

    prompts: frozenset[str] = frozenset()
    pairs: frozenset[tuple[str, str]] = frozenset()

    def excludes(self, spec: DesignSpec) -> bool:
        if self.pairs and any((o.shape, o.colour) in self.pairs for o in spec.objects):
            return True
        return spec.prompt in self.prompts


@dataclass
class Splits:
    """Held-out evaluation sets plus the Holdout that keeps them out of training."""

    heldout: list[SyntheticExample]
    compositional: list[SyntheticExample]
    exclude: Holdout
    compositional_pairs: list[tuple[str, str]] = field(default_factory=list)


# --- rendering -----------------------------------------------------------------------------------


def _paint(colour: str, style: str) -> str:
    hex_ = PALETTE[colour]
    if style == "outlined":
        return f'fill="none" stroke="{hex_}" stroke-width="{OUTLINE_WIDTH}"'
    return f'fill="{hex_}"'


def _points(points: Iterable[tuple[int, int]]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _star_points(x: int, y: int, e: int) -> list[tuple[int, int]]:
    inner = e * 0.45
    pts = []
    for k in range(10):
        r = e if k % 2 == 0 else inner
        a = math.radians(-90 + 36 * k)
        pts.append((round(x + r * math.cos(a)), round(y + r * math.sin(a))))
    return pts


def shape_element(shape: str, x: int, y: int, e: int, paint: str = "") -> str:
    """One canonical element centred on (x, y) with half-extent e; fixed attribute order."""
    h = (e + 1) // 2  # the short half-side of rectangles and ellipses
    paint = f" {paint}" if paint else ""
    if shape == "circle":
        return f'<circle cx="{x}" cy="{y}" r="{e}"{paint}/>'
    if shape == "square":
        return f'<rect x="{x - e}" y="{y - e}" width="{2 * e}" height="{2 * e}"{paint}/>'
    if shape == "rectangle":
        return f'<rect x="{x - e}" y="{y - h}" width="{2 * e}" height="{2 * h}"{paint}/>'
    if shape == "ellipse":
        return f'<ellipse cx="{x}" cy="{y}" rx="{e}" ry="{h}"{paint}/>'
    if shape == "triangle":
        pts = [(x, y - e), (x + e, y + e), (x - e, y + e)]
    elif shape == "diamond":
        pts = [(x, y - e), (x + e, y), (x, y + e), (x - e, y)]
    elif shape == "star":
        pts = _star_points(x, y, e)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return f'<polygon points="{_points(pts)}"{paint}/>'


def cell_centre(position: str) -> tuple[int, int]:
    col, row = POSITIONS[position]
    return col * CELL + CELL // 2, row * CELL + CELL // 2


def render_group(obj: ObjectSpec) -> str:
    """A group is one <g>: placed once (translate to the cell centre) and painted once, so each element
    only carries local geometry that depends on shape, size, count and index, never on position/colour.
    That keeps the SVG short and makes the prompt -> SVG mapping compositional."""
    cx, cy = cell_centre(obj.position)
    body = "".join(shape_element(obj.shape, dx, dy, SIZES[obj.size]) for dx, dy in LAYOUTS[obj.count])
    return f'<g transform="translate({cx} {cy})" {_paint(obj.colour, obj.style)}>{body}</g>'


def render_svg(spec: DesignSpec) -> str:
    """The canonical SVG of a spec: fixed viewBox, integer coordinates, no whitespace between tags."""
    return SVG_OPEN + "".join(render_group(o) for o in spec.objects) + SVG_CLOSE


def example_from_spec(spec: DesignSpec) -> SyntheticExample:
    return SyntheticExample(prompt=spec.prompt, svg=render_svg(spec), spec=spec)


# --- sampling --------------------------------------------------------------------------------------


def random_object(
    rng: random.Random, position: str | None = None, pair: tuple[str, str] | None = None
) -> ObjectSpec:
    shape, colour = pair if pair else (rng.choice(SHAPES), rng.choice(list(PALETTE)))
    return ObjectSpec(
        shape=shape,
        colour=colour,
        size=rng.choice(list(SIZES)),
        position=position or rng.choice(list(POSITIONS)),
        count=rng.choice(list(COUNT_WORDS)),
        style=rng.choice(STYLES),
    )


def random_spec(rng: random.Random, two_object_prob: float = 0.5) -> DesignSpec:
    """One or two groups; two groups always sit in different cells so the layout stays unambiguous."""
    n = 2 if rng.random() < two_object_prob else 1
    positions = rng.sample(list(POSITIONS), n)
    return DesignSpec(objects=tuple(random_object(rng, p) for p in positions))


ExcludeLike = Holdout | Collection[str] | Callable[[DesignSpec], bool] | None


def _exclusion(exclude: ExcludeLike) -> Callable[[DesignSpec], bool]:
    if exclude is None:
        return lambda spec: False
    if isinstance(exclude, Holdout):
        return exclude.excludes
    if callable(exclude):
        return exclude
    prompts = frozenset(exclude)
    return lambda spec: spec.prompt in prompts


def generate_corpus(
    count: int, seed: int = 0, exclude: ExcludeLike = None, *, unique: bool = False
) -> Iterator[SyntheticExample]:
    """`count` examples, deterministic for a seed; excluded specs are skipped (and replaced)."""
    rng = random.Random(seed)
    is_excluded = _exclusion(exclude)
    seen: set[str] = set()
    produced = 0
    attempts = 0
    while produced < count:
        attempts += 1
        if attempts > 50 * count + 1000:
            raise ValueError("exclusions leave too few specs to generate the requested corpus")
        spec = random_spec(rng)
        if is_excluded(spec):
            continue
        if unique:
            if spec.prompt in seen:
                continue
            seen.add(spec.prompt)
        produced += 1
        yield example_from_spec(spec)
