"""Circles, ellipses and rectangles onto the grid: as themselves where the transform keeps them so, else as
paths (a rotated square, a skewed circle)."""

from __future__ import annotations

import math

from core.svg.geometry import Matrix
from slm.form.paths import apply, axis_aligned, grid_point, path_units, similar
from slm.form.spec import to_int


def ellipse_units(m: Matrix, cx: float, cy: float, rx: float, ry: float) -> list[str]:
    centre = grid_point(apply(m, cx, cy))
    if axis_aligned(m) or (similar(m) and rx == ry):
        if axis_aligned(m):
            grx, gry = to_int(abs(rx * m[0]), "a radius"), to_int(abs(ry * m[3]), "a radius")
        else:
            grx = gry = to_int(rx * math.hypot(m[0], m[1]), "a radius")
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


def rect_units(m: Matrix, x: float, y: float, w: float, h: float, rx: float, ry: float) -> list[str]:
    if axis_aligned(m):
        (ax, ay), (bx, by) = apply(m, x, y), apply(m, x + w, y + h)
        x0, x1 = sorted((to_int(ax), to_int(bx)))
        y0, y1 = sorted((to_int(ay), to_int(by)))
        if x0 == x1 or y0 == y1:
            return []
        grx, gry = to_int(abs(rx * m[0]), "a radius"), to_int(abs(ry * m[3]), "a radius")
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
