"""Shared helpers for the core.svg tests: fixture paths, Lucide icon selection, output safety checks,
and hypothesis strategies that generate SVG documents (optionally hostile) in many spellings."""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import strategies as st
from PIL import Image, ImageChops

from tests.shared_fixtures import LUCIDE_ICONS

FIXTURES = Path(__file__).parent / "fixtures"
ATTACKS = sorted((FIXTURES / "attacks").glob("*.svg"))
BENIGN = sorted((FIXTURES / "benign").glob("*.svg"))
LUCIDE_DIR = LUCIDE_ICONS
# Packed arc flags ("a2 2 0 0010 18") are the classic path-parser trap; make sure some are picked.
_PACKED_ARC_RE = re.compile(r"[aA]\s*[\d.]+[\s,]+[\d.]+[\s,]+-?[\d.]+[\s,]+[01][01]")


def lucide_icons(count: int = 30) -> list[Path]:
    """~`count` Lucide icons picked deterministically (evenly spread + a few with packed arc flags)."""
    if not LUCIDE_DIR.is_dir():
        pytest.skip(f"Lucide icons not available at {LUCIDE_DIR}")
    icons = sorted(LUCIDE_DIR.glob("*.svg"))
    step = max(1, len(icons) // (count - 5))
    picked = icons[::step][: count - 5]
    packed = [p for p in icons if _PACKED_ARC_RE.search(p.read_text())][:5]
    return sorted(set(picked) | set(packed))


# ---------------------------------------------------------------------------------------------------------
# Safety checks on sanitised output

_HREF_RE = re.compile(r"""\bhref\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_URL_RE = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE)
_FORBIDDEN = [
    (re.compile(r"<\s*script", re.IGNORECASE), "<script"),
    (re.compile(r"\son\w+\s*=", re.IGNORECASE), "on* attribute"),
    (re.compile(r"foreignObject", re.IGNORECASE), "foreignObject"),
    (re.compile(r"@import", re.IGNORECASE), "@import"),
    (
        re.compile(r"<\s*(iframe|embed|object|image|animate\w*|set|handler|listener)\b", re.IGNORECASE),
        "element",
    ),
    (re.compile(r"<!DOCTYPE|<!ENTITY|<\?xml-stylesheet", re.IGNORECASE), "DTD/PI"),
    (re.compile(r"expression\s*\(|behavior|-moz-binding", re.IGNORECASE), "CSS trick"),
    (re.compile(r"xml:base", re.IGNORECASE), "xml:base"),
]


def _markup_only(svg: str) -> str:
    """Blank out character data except inside <style> (random text like "@IMPORT" in <text> is harmless)."""
    parts = re.split(r"(<style\b[^>]*>.*?</style>)", svg, flags=re.DOTALL)
    return "".join(p if p.startswith("<style") else re.sub(r">[^<]*<", "><", p) for p in parts)


def unsafe_reasons(svg: str, *, include_text: bool = True) -> list[str]:
    """Why this (sanitised) SVG text is not clean; empty if it is."""
    if not include_text:
        svg = _markup_only(svg)
    reasons = [label for rx, label in _FORBIDDEN if rx.search(svg)]
    squashed = re.sub(r"[\s\x00-\x1f\\]+", "", svg).lower()
    for scheme in ("javascript:", "vbscript:", "data:"):
        if scheme in squashed:
            reasons.append(scheme)
    for m in _HREF_RE.finditer(svg):
        if not m.group(2).startswith("#"):
            reasons.append(f"external href {m.group(2)!r}")
    for m in _URL_RE.finditer(svg):
        if not m.group(2).startswith("#"):
            reasons.append(f"url({m.group(2)})")
    return reasons


def assert_clean(svg: str, *, include_text: bool = True) -> None:
    reasons = unsafe_reasons(svg, include_text=include_text)
    assert not reasons, f"unsafe output ({reasons}):\n{svg[:2000]}"


# ---------------------------------------------------------------------------------------------------------
# Image comparison


def rgba(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as im:
        return im.convert("RGBA")


def pixel_diff(png_a: bytes, png_b: bytes) -> tuple[int, float]:
    """(max channel difference, mean channel difference) between two same-size PNGs."""
    a, b = rgba(png_a), rgba(png_b)
    assert a.size == b.size, (a.size, b.size)
    diff = ImageChops.difference(a, b)
    hist = diff.histogram()  # 4 bands x 256 bins
    max_d = max((i % 256) for i, n in enumerate(hist) if n)
    mean_d = sum((i % 256) * n for i, n in enumerate(hist)) / (a.size[0] * a.size[1] * 4)
    return max_d, mean_d


# ---------------------------------------------------------------------------------------------------------
# Generated SVG documents: a small model that can be written out in many equivalent spellings.

XLINK = "http://www.w3.org/1999/xlink"


@dataclass
class Num:
    value: float  # always a 2-decimal value, so every spelling rounds back to the same number


@dataclass
class Nums:
    values: list[float]
    pairs: bool = False  # write as "x,y x,y"


@dataclass
class PathD:
    segments: list[tuple[str, list[float]]]


@dataclass
class Transform:
    items: list[tuple[str, list[float]]]


@dataclass
class Colour:
    hex6: str  # lower-case "#rrggbb"


@dataclass
class Raw:
    text: str


Value = Num | Nums | PathD | Transform | Colour | Raw


@dataclass
class El:
    tag: str
    attrs: dict[str, Value] = field(default_factory=dict)
    children: list[El] = field(default_factory=list)
    text: str | None = None


def _fmt_num(x: float, rnd: random.Random) -> str:
    base = f"{x:.2f}".rstrip("0").rstrip(".")
    base = "0" if base in ("-0", "") else base
    choices = [
        base,
        f"{x:.4f}",  # trailing zeros
        f"{x:e}",  # exponent form
        f"{x + 1e-6:.7f}",  # float noise below the precision
        ("+" + base) if not base.startswith("-") else base,
    ]
    if base.startswith("0."):
        choices.append(base[1:])  # ".5"
    elif base.startswith("-0."):
        choices.append("-" + base[2:])  # "-.5"
    return rnd.choice(choices)


def _sep(rnd: random.Random) -> str:
    return rnd.choice([" ", ",", " , ", "\n  ", "  "])


def _write_value(v: Value, rnd: random.Random, *, compact_flags: bool) -> str:
    match v:
        case Num(value):
            return _fmt_num(value, rnd)
        case Nums(values, pairs):
            toks = [_fmt_num(x, rnd) for x in values]
            if pairs and len(toks) % 2 == 0:
                return " ".join(f"{toks[i]},{toks[i + 1]}" for i in range(0, len(toks), 2))
            return _sep(rnd).join(toks) if rnd.random() < 0.5 else " ".join(toks)
        case PathD(segments):
            out: list[str] = []
            prev = ""
            for cmd, args in segments:
                implicit = {"M": "L", "m": "l"}.get(prev, prev)
                if cmd != implicit or prev in ("", "Z", "z") or rnd.random() < 0.5:
                    out.append(rnd.choice(["", " "]) + cmd)
                    first = True
                else:
                    first = False
                toks = [_fmt_num(x, rnd) for x in args]
                if cmd in "Aa":
                    toks[3:5] = [str(int(args[3])), str(int(args[4]))]  # flags are exactly "0" or "1"
                    if compact_flags and rnd.random() < 0.5:
                        toks = [*toks[:3], toks[3] + toks[4] + toks[5], toks[6]]  # packed: "a1 1 0 01-2 3"
                for i, t in enumerate(toks):
                    out.append(("" if first and i == 0 and rnd.random() < 0.5 else _sep(rnd)) + t)
                prev = cmd
            return "".join(out)
        case Transform(items):
            return rnd.choice([" ", ", ", ""]).join(
                f"{fn}({_sep(rnd).join(_fmt_num(x, rnd) for x in args)})" for fn, args in items
            )
        case Colour(hex6):
            return rnd.choice([hex6, hex6.upper()])
        case Raw(text):
            return text
    raise AssertionError(v)


def write_svg(root: El, seed: int, *, xlink_href: bool | None = None) -> str:
    """One of many equivalent spellings of the model (attribute order, whitespace, quotes, number format,
    xlink:href vs href, self-closing tags, `svg:` prefix)."""
    rnd = random.Random(seed)
    prefixed = rnd.random() < 0.2
    p = "svg:" if prefixed else ""

    def write(el: El, depth: int) -> str:
        items = list(el.attrs.items())
        rnd.shuffle(items)
        attrs = []
        for name, value in items:
            text = _write_value(value, rnd, compact_flags=True)
            if name == "href" and (xlink_href if xlink_href is not None else rnd.random() < 0.5):
                name = "xlink:href"
            q = quoteattr(text) if rnd.random() < 0.5 else '"' + escape(text, {'"': "&quot;"}) + '"'
            attrs.append(f"{rnd.choice([' ', chr(10) + '  ', '   '])}{name}{rnd.choice(['=', ' = '])}{q}")
        if depth == 0:
            ns = (
                ' xmlns:svg="http://www.w3.org/2000/svg"'
                if prefixed
                else ' xmlns="http://www.w3.org/2000/svg"'
            )
            attrs.insert(0, f'{ns} xmlns:xlink="{XLINK}"')
        open_tag = f"<{p}{el.tag}{''.join(attrs)}"
        if not el.children and el.text is None and rnd.random() < 0.5:
            return open_tag + rnd.choice(["/>", " />"])
        ws = rnd.choice(["", "\n", "\n    ", " "]) if el.tag not in ("text", "tspan", "style") else ""
        inner = "".join(ws + write(c, depth + 1) for c in el.children)
        return f"{open_tag}>{escape(el.text or '')}{inner}{ws}</{p}{el.tag}>"

    prolog = rnd.choice(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "<!-- exported -->\n"])
    return prolog + write(root, 0)


# --- strategies ---------------------------------------------------------------------------------------

two_dp = st.integers(-20000, 20000).map(lambda k: k / 100)
positive_two_dp = st.integers(1, 20000).map(lambda k: k / 100)
colours = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True).map(Colour)
paints = st.one_of(colours, st.sampled_from(["none", "currentColor", "red", "url(#grad)"]).map(Raw))
ids = st.sampled_from(["a", "b", "grad", "clip", "shape_1"])


@st.composite
def path_data(draw: st.DrawFn) -> PathD:
    segs: list[tuple[str, list[float]]] = [
        (draw(st.sampled_from("Mm")), draw(st.lists(two_dp, min_size=2, max_size=2)))
    ]
    for _ in range(draw(st.integers(0, 6))):
        cmd = draw(st.sampled_from("LlHhVvCcSsQqTtAaZzM"))
        if cmd in "Aa":
            r = draw(st.lists(positive_two_dp, min_size=2, max_size=2))
            args = [*r, draw(two_dp), float(draw(st.integers(0, 1))), float(draw(st.integers(0, 1)))]
            args += draw(st.lists(two_dp, min_size=2, max_size=2))
        else:
            n = {"L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0, "M": 2}[cmd.upper()]
            args = draw(st.lists(two_dp, min_size=n, max_size=n))
        if segs[-1][0] in "Zz" and cmd in "Zz":
            continue
        segs.append((cmd, args))
    return PathD(segs)


transforms = st.lists(
    st.one_of(
        st.tuples(st.just("translate"), st.lists(two_dp, min_size=1, max_size=2)),
        st.tuples(st.just("scale"), st.lists(positive_two_dp, min_size=1, max_size=2)),
        st.tuples(st.just("rotate"), st.lists(two_dp, min_size=1, max_size=3).filter(lambda a: len(a) != 2)),
        st.tuples(st.just("matrix"), st.lists(two_dp, min_size=6, max_size=6)),
        st.tuples(st.sampled_from(["skewX", "skewY"]), st.lists(two_dp, min_size=1, max_size=1)),
    ),
    min_size=1,
    max_size=3,
).map(Transform)

SHAPE_ATTRS: dict[str, dict[str, st.SearchStrategy[Value]]] = {
    "rect": {
        "x": two_dp.map(Num),
        "y": two_dp.map(Num),
        "width": positive_two_dp.map(Num),
        "height": positive_two_dp.map(Num),
        "rx": positive_two_dp.map(Num),
    },
    "circle": {"cx": two_dp.map(Num), "cy": two_dp.map(Num), "r": positive_two_dp.map(Num)},
    "ellipse": {
        "cx": two_dp.map(Num),
        "cy": two_dp.map(Num),
        "rx": positive_two_dp.map(Num),
        "ry": positive_two_dp.map(Num),
    },
    "line": {"x1": two_dp.map(Num), "y1": two_dp.map(Num), "x2": two_dp.map(Num), "y2": two_dp.map(Num)},
    "path": {"d": path_data()},
    "polyline": {
        "points": st.lists(two_dp, min_size=2, max_size=8)
        .filter(lambda v: len(v) % 2 == 0)
        .map(lambda v: Nums(v, pairs=True))
    },
    "polygon": {
        "points": st.lists(two_dp, min_size=2, max_size=8)
        .filter(lambda v: len(v) % 2 == 0)
        .map(lambda v: Nums(v))
    },
    "use": {"href": ids.map(lambda i: Raw("#" + i)), "x": two_dp.map(Num), "y": two_dp.map(Num)},
}
COMMON_ATTRS: dict[str, st.SearchStrategy[Value]] = {
    "fill": paints,
    "stroke": paints,
    "stroke-width": positive_two_dp.map(Num),
    "opacity": st.integers(0, 100).map(lambda k: Num(k / 100)),
    "transform": transforms,
    "id": ids.map(Raw),
    "stroke-linecap": st.sampled_from(["round", "butt", "square"]).map(Raw),
}

HOSTILE_ATTRS: list[tuple[str, str]] = [
    ("onload", "alert(1)"),
    ("onclick", "alert(document.cookie)"),
    ("OnMouseOver", "x()"),
    ("href", "javascript:alert(1)"),
    ("href", " jav\tascript:alert(1)"),
    ("href", "https://evil.example/x.svg#a"),
    ("href", "data:image/svg+xml;base64,PHN2Zz4="),
    ("style", "fill:url(javascript:alert(1));stroke:red"),
    ("style", "behavior:url(x.htc);fill:#fff"),
    ("style", "width:expression(alert(1))"),
    ("style", "fill: \\75rl(javascript:x)"),
    ("fill", "url(http://evil.example/#x)"),
    ("clip-path", "url(data:x#y)"),
    ("transform", "rotate(javascript:1)"),
    ("xml:base", "javascript:alert(1)//"),
]
HOSTILE_ELEMENTS: list[El] = [
    El("script", text="alert(1)"),
    El("foreignObject", children=[El("rect")], attrs={"width": Num(10)}),
    El("animate", attrs={"attributeName": Raw("href"), "values": Raw("javascript:alert(1)")}),
    El("set", attrs={"attributeName": Raw("xlink:href"), "to": Raw("javascript:alert(1)")}),
    El("image", attrs={"href": Raw("http://evil.example/a.png"), "width": Num(5), "height": Num(5)}),
    El("iframe", attrs={"src": Raw("javascript:alert(1)")}),
    El("style", text="@import url(//evil.example/x.css); rect{fill:url(javascript:x);stroke:red}"),
    El("a", attrs={"href": Raw("javascript:alert(1)")}, children=[El("circle", {"r": Num(3)})]),
]


@st.composite
def shape(draw: st.DrawFn, hostile: bool) -> El:
    tag = draw(st.sampled_from(sorted(SHAPE_ATTRS)))
    attrs: dict[str, Value] = {}
    for name, strat in SHAPE_ATTRS[tag].items():
        if draw(st.booleans()) or name in ("d", "points", "href", "r"):
            attrs[name] = draw(strat)
    for name in draw(st.lists(st.sampled_from(sorted(COMMON_ATTRS)), max_size=3, unique=True)):
        attrs[name] = draw(COMMON_ATTRS[name])
    if hostile:
        for name, value in draw(st.lists(st.sampled_from(HOSTILE_ATTRS), max_size=2)):
            attrs[name] = Raw(value)
    return El(tag, attrs)


@st.composite
def text_element(draw: st.DrawFn) -> El:
    words = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]), max_size=12)
    el = El("text", {"x": Num(draw(two_dp)), "y": Num(draw(two_dp))}, text=draw(words))
    if draw(st.booleans()):
        el.children.append(El("tspan", {"fill": draw(colours)}, text=draw(words)))
    return el


@st.composite
def gradient_defs(draw: st.DrawFn) -> El:
    stops = [
        El("stop", {"offset": Num(o), "stop-color": draw(colours)})
        for o in sorted(draw(st.lists(st.integers(0, 100).map(lambda k: k / 100), min_size=1, max_size=3)))
    ]
    grad = El("linearGradient", {"id": Raw("grad"), "x2": Num(draw(positive_two_dp))}, stops)
    clip = El("clipPath", {"id": Raw("clip")}, [El("circle", {"r": Num(draw(positive_two_dp))})])
    return El("defs", children=[grad, clip])


@st.composite
def svg_documents(draw: st.DrawFn, hostile: bool = False) -> El:
    def node(depth: int) -> st.SearchStrategy[El]:
        leaves = [shape(hostile), text_element()]
        if hostile:
            leaves.append(st.sampled_from(HOSTILE_ELEMENTS))
        if depth >= 2:
            return st.one_of(*leaves)
        group = st.lists(node(depth + 1), max_size=3).map(lambda ch: El("g", children=ch))
        return st.one_of(*leaves, group)

    vb = Nums([draw(two_dp), draw(two_dp), draw(positive_two_dp), draw(positive_two_dp)])
    root = El("svg", {"viewBox": vb})
    if draw(st.booleans()):
        root.attrs["width"] = Num(draw(positive_two_dp))
    if hostile and draw(st.booleans()):
        root.attrs["onload"] = Raw("alert(1)")
    if draw(st.booleans()):
        root.children.append(draw(gradient_defs()))
    root.children.extend(draw(st.lists(node(0), min_size=1, max_size=4)))
    return root
