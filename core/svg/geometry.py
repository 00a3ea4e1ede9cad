"""Where an element draws: transforms as matrices, and the outline points of basic shapes and paths
(arcs and Bézier curves sampled), in the element's own coordinates. For analysing designs (adherence),
never for rendering (resvg does that)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from core.svg.numbers import NUM
from core.svg.parse import SvgError, parse_svg
from core.svg.path_data import parse_path
from core.svg.style import local_name

Point = tuple[float, float]
Matrix = tuple[float, float, float, float, float, float]  # a b c d e f, as in SVG matrix()
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_NUM_RE = re.compile(NUM)
ARC_SAMPLES = 16
CURVE_SAMPLES = 8


def number(value: str | None, default: float = 0.0) -> float:
    """The leading number of a length ("12", "12px", "1e2"), or `default`."""
    if not value:
        return default
    m = _NUM_RE.match(value.strip())
    return float(m.group()) if m else default


def multiply(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def parse_transform(text: str | None) -> Matrix:
    """translate/scale/rotate/matrix/skew, composed left to right as SVG specifies."""
    m = IDENTITY
    for name, args_text in re.findall(r"(\w+)\s*\(([^)]*)\)", text or ""):
        args = [float(x) for x in _NUM_RE.findall(args_text)]
        if name == "translate" and args:
            t: Matrix = (1, 0, 0, 1, args[0], args[1] if len(args) > 1 else 0)
        elif name == "scale" and args:
            t = (args[0], 0, 0, args[1] if len(args) > 1 else args[0], 0, 0)
        elif name == "rotate" and args:
            r = math.radians(args[0])
            cos, sin = math.cos(r), math.sin(r)
            t = (cos, sin, -sin, cos, 0, 0)
            if len(args) >= 3:
                around = (1, 0, 0, 1, args[1], args[2])
                t = multiply(multiply(around, t), (1, 0, 0, 1, -args[1], -args[2]))
        elif name == "matrix" and len(args) == 6:
            t = (args[0], args[1], args[2], args[3], args[4], args[5])
        elif name == "skewX" and args:
            t = (1, 0, math.tan(math.radians(args[0])), 1, 0, 0)
        elif name == "skewY" and args:
            t = (1, math.tan(math.radians(args[0])), 0, 1, 0, 0)
        else:
            continue
        m = multiply(m, t)
    return m


def transform_points(m: Matrix, pts: list[Point]) -> list[Point]:
    a, b, c, d, e, f = m
    return [(a * x + c * y + e, b * x + d * y + f) for x, y in pts]


def arc_points(
    x1: float, y1: float, rx: float, ry: float, phi_deg: float, large: bool, sweep: bool, x2: float, y2: float
) -> list[Point]:
    """Points along an elliptical arc (SVG endpoint parameterisation -> centre form, then sampled)."""
    return _arc(
        x1, y1, rx, ry, phi_deg, large, sweep, x2, y2, [k / ARC_SAMPLES for k in range(1, ARC_SAMPLES + 1)]
    )


def arc_midpoint(
    x1: float, y1: float, rx: float, ry: float, phi_deg: float, large: bool, sweep: bool, x2: float, y2: float
) -> Point:
    """The point halfway along an elliptical arc."""
    return _arc(x1, y1, rx, ry, phi_deg, large, sweep, x2, y2, [0.5])[0]


def _arc(
    x1: float,
    y1: float,
    rx: float,
    ry: float,
    phi_deg: float,
    large: bool,
    sweep: bool,
    x2: float,
    y2: float,
    at: list[float],
) -> list[Point]:
    """Points at fractions `at` of an arc's sweep (radii scaled up as the spec says when too small)."""
    if rx == 0 or ry == 0 or (x1 == x2 and y1 == y2):
        return [(x1 + (x2 - x1) * f, y1 + (y2 - y1) * f) for f in at]
    phi = math.radians(phi_deg)
    cos, sin = math.cos(phi), math.sin(phi)
    dx, dy = (x1 - x2) / 2, (y1 - y2) / 2
    x1p, y1p = cos * dx + sin * dy, -sin * dx + cos * dy
    rx, ry = abs(rx), abs(ry)
    lam = (x1p / rx) ** 2 + (y1p / ry) ** 2
    if lam > 1:  # radii too small: scale up as the spec says
        rx, ry = rx * math.sqrt(lam), ry * math.sqrt(lam)
    num = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p
    den = rx * rx * y1p * y1p + ry * ry * x1p * x1p
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if large == sweep:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    cx = cos * cxp - sin * cyp + (x1 + x2) / 2
    cy = sin * cxp + cos * cyp + (y1 + y2) / 2

    def angle(ux: float, uy: float, vx: float, vy: float) -> float:
        return math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)

    t1 = angle(1, 0, (x1p - cxp) / rx, (y1p - cyp) / ry)
    dt = angle((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry)
    if not sweep and dt > 0:
        dt -= 2 * math.pi
    elif sweep and dt < 0:
        dt += 2 * math.pi
    pts = []
    for f in at:
        t = t1 + dt * f
        ex, ey = rx * math.cos(t), ry * math.sin(t)
        pts.append((cos * ex - sin * ey + cx, sin * ex + cos * ey + cy))
    return pts


def transform_ellipse(m: Matrix, rx: float, ry: float, phi_deg: float) -> tuple[float, float, float]:
    """(rx, ry, rotation in degrees) of the ellipse that `m`'s linear part makes of (rx, ry, phi_deg):
    the singular values and left singular vector of M·R(phi)·diag(rx, ry)."""
    phi = math.radians(phi_deg)
    cos, sin = math.cos(phi), math.sin(phi)
    a, b, c, d = m[:4]
    k11, k21 = (a * cos + c * sin) * rx, (b * cos + d * sin) * rx
    k12, k22 = (-a * sin + c * cos) * ry, (-b * sin + d * cos) * ry
    e, f = (k11 + k22) / 2, (k11 - k22) / 2
    g, h = (k21 + k12) / 2, (k21 - k12) / 2
    q, r = math.hypot(e, h), math.hypot(f, g)
    theta = (math.atan2(h, e) + math.atan2(g, f)) / 2
    return q + r, abs(q - r), math.degrees(theta) % 180


def bezier_points(p0: Point, ctrl: list[Point]) -> list[Point]:
    """Points along a quadratic or cubic Bézier (control points over-bound the curve, samples do not)."""
    pts = [p0, *ctrl]
    out = []
    for k in range(1, CURVE_SAMPLES + 1):
        t = k / CURVE_SAMPLES
        layer = pts
        while len(layer) > 1:  # de Casteljau
            layer = [
                ((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1])
                for a, b in zip(layer, layer[1:], strict=False)
            ]
        out.append(layer[0])
    return out


@dataclass(frozen=True)
class Outline:
    points: list[Point]  # along the outline: their bounds are the element's bounding box
    vertices: list[Point]  # the corners of its straight segments (a polygon's points)
    curved: bool


def path_outline(d: str) -> Outline:
    """The outline of path data (core.svg.path_data.parse_path's segments, made absolute)."""
    vertices: list[Point] = []
    points: list[Point] = []
    curved = False
    x = y = sx = sy = 0.0
    last_ctrl: Point | None = None  # for S/T reflection
    for cmd, args in parse_path(d or "") or []:
        rel, lc = cmd.islower(), cmd.lower()
        ox, oy = (x, y) if rel else (0.0, 0.0)
        if lc == "z":
            x, y, last_ctrl = sx, sy, None
            continue
        if lc in "ml":
            x, y = ox + args[0], oy + args[1]
            if lc == "m":
                sx, sy = x, y
            last_ctrl = None
        elif lc == "h":
            x, last_ctrl = ox + args[0], None
        elif lc == "v":
            y, last_ctrl = oy + args[0], None
        elif lc == "a":
            curved = True
            nx, ny = ox + args[5], oy + args[6]
            points += arc_points(x, y, args[0], args[1], args[2], bool(args[3]), bool(args[4]), nx, ny)
            x, y, last_ctrl = nx, ny, None
        else:
            curved = True
            coords = [(ox + args[k], oy + args[k + 1]) for k in range(0, len(args), 2)]
            if lc in "st":  # the first control point reflects the previous one
                reflected = (2 * x - last_ctrl[0], 2 * y - last_ctrl[1]) if last_ctrl else (x, y)
                coords = [reflected, *coords]
            points += bezier_points((x, y), coords)
            last_ctrl = coords[-2]
            x, y = coords[-1]
        vertices.append((x, y))
        points.append((x, y))
    return Outline(points + vertices, vertices, curved)


def dedupe(pts: list[Point]) -> list[Point]:
    """Consecutive repeats dropped, and a closing point equal to the first."""
    out: list[Point] = []
    for p in pts:
        if not out or abs(out[-1][0] - p[0]) > 1e-6 or abs(out[-1][1] - p[1]) > 1e-6:
            out.append(p)
    if len(out) > 1 and abs(out[0][0] - out[-1][0]) < 1e-6 and abs(out[0][1] - out[-1][1]) < 1e-6:
        out.pop()
    return out


def outline(el: ET.Element) -> Outline | None:
    """The outline of a basic shape or path (element coordinates), or None when it draws nothing."""
    tag, g = local_name(el.tag), el.get
    if tag == "circle":
        cx, cy, r = number(g("cx")), number(g("cy")), number(g("r"))
        return Outline([(cx - r, cy - r), (cx + r, cy + r)], [], True) if r > 0 else None
    if tag == "ellipse":
        cx, cy, rx, ry = number(g("cx")), number(g("cy")), number(g("rx")), number(g("ry"))
        return Outline([(cx - rx, cy - ry), (cx + rx, cy + ry)], [], True) if rx > 0 and ry > 0 else None
    if tag == "rect":
        x, y, w, h = number(g("x")), number(g("y")), number(g("width")), number(g("height"))
        corners = [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
        return Outline(corners, corners, False) if w > 0 and h > 0 else None
    if tag in ("polygon", "polyline"):
        nums = [float(v) for v in _NUM_RE.findall(g("points") or "")]
        pts = dedupe([(nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)])
        return Outline(pts, pts, False) if len(pts) >= 2 else None
    if tag == "path":
        path = path_outline(g("d") or "")
        return path if len(path.points) >= 2 else None
    if tag == "line":
        ends = [(number(g("x1")), number(g("y1"))), (number(g("x2")), number(g("y2")))]
        return Outline(ends, ends, False)
    return None


def command_count(svg: str) -> int:
    """How much a design draws, as its path commands (a basic shape counts as one): a complexity measure
    for grouping designs. 0 for SVG that does not parse."""
    try:
        root = parse_svg(svg)
    except SvgError:
        return 0
    count = 0
    for el in root.iter():
        tag = local_name(el.tag)
        if tag == "path":
            count += len(parse_path(el.get("d") or "") or [])
        elif tag in ("rect", "circle", "ellipse", "line", "polyline", "polygon", "use", "text"):
            count += 1
    return count
