"""Path data onto the grid: absolute commands, H/V and S/T where they are exact, circular and elliptical
arcs with radii chosen so the rounded arc stays where it was meant."""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.svg.geometry import IDENTITY, Matrix, arc_midpoint, transform_ellipse
from slm.form.spec import INT_RE, ModelFormError, to_int


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def axis_aligned(m: Matrix) -> bool:
    return abs(m[1]) < 1e-9 and abs(m[2]) < 1e-9


def similar(m: Matrix) -> bool:
    """A rotation and uniform scale (no mirror, no skew): circles stay circles."""
    a, b, c, d = m[:4]
    return math.isclose(a, d, abs_tol=1e-9) and math.isclose(b, -c, abs_tol=1e-9)


def grid_point(p: tuple[float, float]) -> tuple[str, str]:
    return str(to_int(p[0])), str(to_int(p[1]))


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
        x, y = apply(m, *p)
        return to_int(x), to_int(y)

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
    drawn = any(u not in ("M", "Z") and not INT_RE.fullmatch(u) for u in out)
    return ["<path", *out] if drawn else []


# resvg (kurbo) draws an arc whose radius is at most this (in its path's units) as a straight line; so do
# renderers in single precision for radii that are zero there. Scaling such a radius up as SVG 1.1
# (F.6.6) says would draw a half ellipse none of them shows, and overflow for the tiniest.
ARC_MIN_RADIUS = 1e-5


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
    if rx <= ARC_MIN_RADIUS or ry <= ARC_MIN_RADIUS:
        return ["L", str(g[0]), str(g[1])]
    rx, ry = _reachable_radii(cur, p, rx, ry, phi)
    nrx, nry, nphi = transform_ellipse(m, rx, ry, phi)
    if m[0] * m[3] - m[1] * m[2] < 0:
        sweep = 1 - sweep  # a mirror reverses the direction of travel
    to_int(max(nrx, nry), "an arc radius")
    if math.isclose(nrx, nry, rel_tol=1e-6):
        r = _stable_radius(apply(m, *cur), nrx, large, sweep, apply(m, *p), g_cur, g)
        return [f"R{large}{sweep}", str(r), str(g[0]), str(g[1])]
    grx, gry = to_int(nrx, "an arc radius"), to_int(nry, "an arc radius")
    if grx == 0 or gry == 0:
        return ["L", str(g[0]), str(g[1])]
    return [f"A{large}{sweep}", str(grx), str(gry), str(round(nphi) % 180), str(g[0]), str(g[1])]


# How unevenly a transform may scale a stroked element (its larger over its smaller singular value)
# before the one stroke width the form writes is too far from what a renderer draws.
MAX_STROKE_STRETCH = 1.25


def stretch(m: Matrix) -> float:
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
    reach = math.hypot(x1 / rx, y1 / ry)  # not squared: a tiny radius would overflow
    return (rx * reach, ry * reach) if reach > 1 else (rx, ry)


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
