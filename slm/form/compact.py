"""Form version 2: the drawing version 1 writes, in about half the units.

Version 1 writes every coordinate as its own integer unit. Version 2 (after OmniSVG, which makes each
(x, y) pair one token) writes:
- every point as ONE unit `x,y` (the tokenizer holds each as a single token), and the sizes that come in
  twos likewise: `<rect x,y w,h`, `<rrect x,y w,h rx,ry`, `<ellipse cx,cy rx,ry`, `A01 rx,ry rot x,y`;
  a circle's radius and a circular arc's stay single: `<circle cx,cy r`, `R01 r x,y`;
- lines as points alone: H and V become L (one pair is as short as H's one number), a command letter is
  written only where it changes (`C a b c d e f` is two curves, as in SVG; points after a moveto are
  lines), and the moveto that opens a path or follows Z is the bare point;
- a point on the straight line between its neighbours (a run of lines that goes on in the same
  direction on the grid) is left out: the outline is the same.

`expand` turns version 2 back into version 1 units (the decoder then reads those), passing what it does
not recognise through, so the decoder reports it as it would in version 1.
"""

from __future__ import annotations

from slm.form.spec import ARC_COMMANDS, INT_RE, POINT_RE

_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0, "R": 3, "A": 5}
_SINGLE = {"R": (0,), "A": (2,)}  # argument positions that stay single numbers (radius, rotation)


def compact(units: list[str]) -> list[str]:
    """Version-1 units (as the encoder writes them: well formed) in version 2."""
    out: list[str] = []
    i = 0
    while i < len(units):
        unit = units[i]
        j = i + 1
        while j < len(units) and (INT_RE.fullmatch(units[j]) or _is_command(units[j])):
            j += 1
        body = units[i + 1 : j]
        if unit == "<path":
            out += ["<path", *_path(body)]
        elif unit.startswith("<"):
            pairs = _pairs(body[:-1]) + [body[-1]] if unit == "<circle" else _pairs(body)
            out += [unit, *pairs]
        else:
            out.append(unit)
            j = i + 1
        i = j
    return out


def _is_command(unit: str) -> bool:
    return unit in _ARITY or unit in ARC_COMMANDS


def _pairs(numbers: list[str]) -> list[str]:
    return [f"{numbers[k]},{numbers[k + 1]}" for k in range(0, len(numbers) - 1, 2)]


def _segments(body: list[str]) -> list[tuple[str, list[int]]]:
    """(command, absolute integer arguments) with H and V turned into L."""
    segments: list[tuple[str, list[int]]] = []
    cur = (0, 0)
    start = (0, 0)
    i = 0
    while i < len(body):
        cmd = body[i]
        n = [int(v) for v in body[i + 1 : i + 1 + _ARITY[cmd[0] if cmd in ARC_COMMANDS else cmd]]]
        i += 1 + len(n)
        if cmd == "H":
            cmd, n = "L", [n[0], cur[1]]
        elif cmd == "V":
            cmd, n = "L", [cur[0], n[0]]
        segments.append((cmd, n))
        if cmd == "M":
            start = (n[0], n[1])
        cur = start if cmd == "Z" else (n[-2], n[-1])
    return _straighten(segments)


def _straighten(segments: list[tuple[str, list[int]]]) -> list[tuple[str, list[int]]]:
    """Lines whose end lies on the way to the next line's end, going on in the same direction, join it."""
    out: list[tuple[str, list[int]]] = []
    for cmd, n in segments:
        if cmd == "L" and len(out) >= 2 and out[-1][0] == "L" and out[-2][0] != "Z":
            a, b, c = out[-2][1][-2:], out[-1][1], n
            ab, bc = (b[0] - a[0], b[1] - a[1]), (c[0] - b[0], c[1] - b[1])
            if (
                ab != (0, 0)
                and bc != (0, 0)
                and ab[0] * bc[1] == ab[1] * bc[0]
                and ab[0] * bc[0] + ab[1] * bc[1] > 0
            ):
                out[-1] = (cmd, n)
                continue
        out.append((cmd, n))
    return out


def _path(body: list[str]) -> list[str]:
    out: list[str] = []
    previous = ""  # the command a bare group of arguments would repeat ("" at the start and after Z)
    for cmd, n in _segments(body):
        if cmd == "M" and previous in ("", "Z"):
            pass  # a bare point there is a moveto
        elif cmd != previous and not (cmd == "L" and previous == "M"):
            out.append(cmd)
        single = _SINGLE.get(cmd[0], ())
        k = 0
        while k < len(n):
            if k in single:
                out.append(str(n[k]))
                k += 1
            else:
                out.append(f"{n[k]},{n[k + 1]}")
                k += 2
        previous = "L" if cmd == "M" else cmd
    return out


def expand(units: list[str]) -> list[str]:
    """Version-2 units as version 1: pairs split, the implicit moveto written. Lenient: a model wrote them."""
    out: list[str] = []
    for unit in units:
        pair = POINT_RE.fullmatch(unit)
        if pair is None:
            out.append(unit)
            continue
        if out and out[-1] in ("<path", "Z"):
            out.append("M")
        out += [pair.group(1), pair.group(2)]
    return out
