"""Colours in SVG paint values: the one parser (hex, rgb()/rgba(), every CSS colour name, hsl()), its
canonical #rrggbb form, and the nearest colour of a palette."""

from __future__ import annotations

import re

from PIL import ImageColor

RGB = tuple[int, int, int]
# Paint that is no colour: nothing painted, the inherited colour, or a gradient/pattern reference.
NOT_A_COLOUR = ("none", "transparent", "currentcolor", "inherit")
_HEX_RE = re.compile(r"#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})")
_RGB_RE = re.compile(r"rgba?\(([^)]*)\)")


def parse_colour(value: str | None) -> RGB | None:
    """An RGB triple (alpha ignored), or None for no colour, a paint reference or anything unreadable."""
    if value is None:
        return None
    v = value.strip().lower()
    if not v or v in NOT_A_COLOUR or v.startswith("url("):
        return None
    if m := _HEX_RE.fullmatch(v):
        digits = m.group(1)
        if len(digits) in (3, 4):
            return (int(digits[0] * 2, 16), int(digits[1] * 2, 16), int(digits[2] * 2, 16))
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if m := _RGB_RE.fullmatch(v):
        # Commas, spaces or a slash before alpha: CSS colour level 3 and 4 syntax alike.
        parts = [p for p in re.split(r"[,\s/]+", m.group(1)) if p]
        if len(parts) < 3:
            return None
        try:
            channels = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
        except ValueError:
            return None
        r, g, b = (min(255, max(0, round(c))) for c in channels)
        return (r, g, b)
    try:  # names (the CSS table), hsl(), hsv()
        rgb = ImageColor.getrgb(v)
    except ValueError:
        return None
    return (rgb[0], rgb[1], rgb[2])


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def normalise_colour(value: str) -> str:
    """#rrggbb for any colour, else the value lower-cased (none, currentcolor, url(#a), …): for comparing
    colours however they were written."""
    rgb = parse_colour(value)
    return hex_colour(rgb) if rgb is not None else value.strip().lower()


def nearest_colour(rgb: RGB, palette: list[RGB]) -> RGB:
    """The palette colour nearest to `rgb`, by weighted RGB distance ("redmean"): cheap and close enough
    to perceived difference."""

    def distance(p: RGB) -> float:
        rmean = (rgb[0] + p[0]) / 2
        dr, dg, db = rgb[0] - p[0], rgb[1] - p[1], rgb[2] - p[2]
        return (2 + rmean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rmean) / 256) * db * db

    return min(palette, key=distance)


_ALPHA_RE = re.compile(r"(?:rgba|hsla)\(([^)]*)\)|(?:rgb|hsl)\(([^)]*/[^)]*)\)")


def paint_alpha(value: str) -> float:
    """The alpha a colour value carries (#rrggbbaa, #rgba, rgba(), hsla(), `rgb(… / a)`), 1.0 if none."""
    v = value.strip().lower()
    if (m := _HEX_RE.fullmatch(v)) and len(m.group(1)) in (4, 8):
        digits = m.group(1)
        return int(digits[3] * 2 if len(digits) == 4 else digits[6:8], 16) / 255
    if m := _ALPHA_RE.fullmatch(v):
        parts = [p for p in re.split(r"[,\s/]+", m.group(1) or m.group(2)) if p]
        if len(parts) >= 4:
            a = parts[3]
            try:
                alpha = float(a[:-1]) / 100 if a.endswith("%") else float(a)
            except ValueError:
                return 1.0
            return min(1.0, max(0.0, alpha))
    return 1.0
