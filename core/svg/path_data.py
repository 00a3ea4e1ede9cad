"""Path data (the `d` attribute): parsed into (command, args) segments, and written back rounded."""

from __future__ import annotations

import math
import re

from core.svg.numbers import NUM, fmt_number

_ARITY = {"M": 2, "L": 2, "T": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "A": 7, "Z": 0}
_NUM_AT_RE = re.compile(NUM)
_WSP = " \t\r\n\f,"


def parse_path(d: str) -> list[tuple[str, list[float]]] | None:
    """Parse path data into (command, args) segments; None if it is not valid path data.

    Hand-written rather than a number regex because arc flags may be packed ("a2 2 0 0010 18").
    """
    segments: list[tuple[str, list[float]]] = []
    i, n = 0, len(d)
    cmd: str | None = None

    def skip(i: int) -> int:
        while i < n and d[i] in _WSP:
            i += 1
        return i

    i = skip(i)
    while i < n:
        ch = d[i]
        if ch.upper() in _ARITY:
            cmd = ch
            i += 1
        elif cmd is None or cmd in "Zz":
            return None  # numbers with no command, or after Z
        elif cmd in "Mm":
            cmd = "L" if cmd == "M" else "l"  # implicit lineto after moveto
        if not segments and cmd not in "Mm":
            return None  # path data must start with a moveto
        args: list[float] = []
        for k in range(_ARITY[cmd.upper()]):
            i = skip(i)
            if cmd in "Aa" and k in (3, 4):
                if i < n and d[i] in "01":
                    args.append(float(d[i]))
                    i += 1
                    continue
                return None
            m = _NUM_AT_RE.match(d, i)
            if not m:
                return None
            x = float(m.group(0))
            if not math.isfinite(x):
                return None
            args.append(x)
            i = m.end()
        segments.append((cmd, args))
        i = skip(i)
    return segments


def _implicit_next(cmd: str) -> str:
    return {"M": "L", "m": "l", "Z": "", "z": ""}.get(cmd, cmd)


def format_path(segments: list[tuple[str, list[float]]], precision: int) -> str:
    out: list[str] = []
    prev_cmd = ""
    last_was_number = False
    for cmd, args in segments:
        if not prev_cmd or cmd != _implicit_next(prev_cmd):
            out.append(cmd)
            last_was_number = False
        for x in args:
            s = fmt_number(x, precision)
            if last_was_number and not s.startswith("-"):
                out.append(" ")
            out.append(s)
            last_was_number = True
        prev_cmd = cmd
    return "".join(out)


def normalise_path(d: str, precision: int) -> str:
    segments = parse_path(d)
    if segments is None:
        return " ".join(d.split())  # invalid: leave the numbers alone; validation reports it
    return format_path(segments, precision)
