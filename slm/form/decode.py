"""Decoding a model-form text into clean SVG, leniently: a model wrote it, so a malformed piece is dropped
and reported, the rest is kept. Paint every element shares is hoisted onto the root."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slm.form.compact import expand
from slm.form.spec import ARC_COMMANDS, INT_RE, PAINT_KEYS, FormSpec, Paint, short

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
    units = expand(text.split()) if spec.version >= 2 else text.split()
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
            while j < len(units) and INT_RE.fullmatch(units[j]):
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
    view = short(spec.view)
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
                "stroke-width": short(float(p.sw) * k),
                "stroke-linecap": p.cap,
                "stroke-linejoin": p.join,
                "stroke-opacity": p.sop,
            }
        )
        if p.dash != "none":
            attrs["stroke-dasharray"] = " ".join(short(int(v) * k) for v in p.dash.split(","))
    return {a: v for a, v in attrs.items() if a in ("fill",) or v != _SVG_DEFAULTS.get(a)}


def _element(tag: str, body: list[str], k: float) -> tuple[str, dict[str, str]] | None:
    if tag == "path":
        d = _path_data(body, k)
        return ("path", {"d": d}) if d else None
    if not body or not all(INT_RE.fullmatch(b) for b in body):
        return None
    v = [int(b) * k for b in body]
    if tag in _ELEMENT_ARITY:
        if len(v) != _ELEMENT_ARITY[tag]:
            return None
        s = [short(x) for x in v]
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
        return (tag, {"points": " ".join(f"{short(v[i])},{short(v[i + 1])}" for i in range(0, len(v), 2))})
    return None


def _path_data(body: list[str], k: float) -> str:
    out: list[str] = []
    i = 0
    previous = ""
    while i < len(body):
        cmd = body[i]
        if INT_RE.fullmatch(cmd) and previous and previous != "Z":
            # Numbers after a full set of arguments repeat the command, as in SVG (after M: L).
            cmd, i = ("L" if previous == "M" else previous), i - 1
        kind = cmd[0] if cmd in ARC_COMMANDS else cmd
        if kind not in _COMMAND_ARITY or (not out and kind != "M"):
            break  # no moveto first, or something that is no command: the rest is unusable
        args = body[i + 1 : i + 1 + _COMMAND_ARITY[kind]]
        if len(args) < _COMMAND_ARITY[kind] or not all(INT_RE.fullmatch(a) for a in args):
            break
        i += 1 + len(args)
        previous = cmd
        n = [int(a) for a in args]
        flags = f"{cmd[1]} {cmd[2]}" if kind in "RA" else ""
        if kind == "R":
            r = short(n[0] * k)
            out.append(f"A{r} {r} 0 {flags} {short(n[1] * k)} {short(n[2] * k)}")
        elif kind == "A":
            rx, ry, x, y = (short(n[j] * k) for j in (0, 1, 3, 4))
            out.append(f"A{rx} {ry} {n[2]} {flags} {x} {y}")
        else:
            out.append(kind + " ".join(short(v * k) for v in n))
    return "".join(out) if any(not s.startswith(("M", "Z")) for s in out) else ""
