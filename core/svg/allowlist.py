"""The sanitiser's allow-list: the elements that may appear, the attributes each may carry and the value
kind each attribute (and CSS property) must match. Anything not listed here is removed (sanitise.py)."""

from __future__ import annotations

from core.svg.values import Kind

# Presentation attributes: allowed on every element, and the only properties allowed in CSS.
PRESENTATION: dict[str, Kind] = {
    "fill": Kind.PAINT,
    "fill-opacity": Kind.LENGTH,
    "fill-rule": Kind.KEYWORD,
    "stroke": Kind.PAINT,
    "stroke-width": Kind.LENGTH,
    "stroke-linecap": Kind.KEYWORD,
    "stroke-linejoin": Kind.KEYWORD,
    "stroke-miterlimit": Kind.LENGTH,
    "stroke-dasharray": Kind.LENGTHS,
    "stroke-dashoffset": Kind.LENGTH,
    "stroke-opacity": Kind.LENGTH,
    "opacity": Kind.LENGTH,
    "color": Kind.PAINT,
    "clip-path": Kind.URL_REF,
    "clip-rule": Kind.KEYWORD,
    "mask": Kind.URL_REF,
    "display": Kind.KEYWORD,
    "visibility": Kind.KEYWORD,
    "overflow": Kind.KEYWORD,
    "font": Kind.FONT,
    "font-family": Kind.FONT,
    "font-size": Kind.LENGTH,
    "font-style": Kind.KEYWORD,
    "font-weight": Kind.KEYWORD,
    "font-variant": Kind.KEYWORD,
    "font-stretch": Kind.KEYWORD,
    "text-anchor": Kind.KEYWORD,
    "text-decoration": Kind.KEYWORD,
    "dominant-baseline": Kind.KEYWORD,
    "alignment-baseline": Kind.KEYWORD,
    "baseline-shift": Kind.LENGTH,
    "letter-spacing": Kind.LENGTH,
    "word-spacing": Kind.LENGTH,
    "writing-mode": Kind.KEYWORD,
    "stop-color": Kind.PAINT,
    "stop-opacity": Kind.LENGTH,
    "paint-order": Kind.KEYWORD,
    "vector-effect": Kind.KEYWORD,
    "shape-rendering": Kind.KEYWORD,
    "text-rendering": Kind.KEYWORD,
    "color-interpolation": Kind.KEYWORD,
    "mix-blend-mode": Kind.KEYWORD,
    "isolation": Kind.KEYWORD,
}
CSS_PROPERTIES: dict[str, Kind] = dict(PRESENTATION)

_CORE: dict[str, Kind] = {
    "id": Kind.ID,
    "class": Kind.CLASS,
    "transform": Kind.TRANSFORM,
    "xml:space": Kind.SPACE,
    "xml:lang": Kind.KEYWORD,
    "lang": Kind.KEYWORD,
}
_XY = {"x": Kind.LENGTH, "y": Kind.LENGTH}
_WH = {"width": Kind.LENGTH, "height": Kind.LENGTH}
_TEXT_POS = {
    "x": Kind.LENGTHS,
    "y": Kind.LENGTHS,
    "dx": Kind.LENGTHS,
    "dy": Kind.LENGTHS,
    "rotate": Kind.LENGTHS,
    "textLength": Kind.LENGTH,
    "lengthAdjust": Kind.KEYWORD,
}
_GRADIENT = {
    "gradientUnits": Kind.KEYWORD,
    "gradientTransform": Kind.TRANSFORM,
    "spreadMethod": Kind.KEYWORD,
    "href": Kind.HREF,
}

# Element -> its own attributes (on top of presentation + core). "style" is handled separately.
ELEMENTS: dict[str, dict[str, Kind]] = {
    "svg": {
        **_XY,
        **_WH,
        "viewBox": Kind.VIEWBOX,
        "preserveAspectRatio": Kind.KEYWORD,
        "version": Kind.KEYWORD,
        "baseProfile": Kind.KEYWORD,
    },
    "g": {},
    "defs": {},
    "symbol": {**_XY, **_WH, "viewBox": Kind.VIEWBOX, "preserveAspectRatio": Kind.KEYWORD},
    "use": {**_XY, **_WH, "href": Kind.HREF},
    "rect": {**_XY, **_WH, "rx": Kind.LENGTH, "ry": Kind.LENGTH, "pathLength": Kind.LENGTH},
    "circle": {"cx": Kind.LENGTH, "cy": Kind.LENGTH, "r": Kind.LENGTH, "pathLength": Kind.LENGTH},
    "ellipse": {"cx": Kind.LENGTH, "cy": Kind.LENGTH, "rx": Kind.LENGTH, "ry": Kind.LENGTH},
    "line": {"x1": Kind.LENGTH, "y1": Kind.LENGTH, "x2": Kind.LENGTH, "y2": Kind.LENGTH},
    "polyline": {"points": Kind.POINTS},
    "polygon": {"points": Kind.POINTS},
    "path": {"d": Kind.PATH, "pathLength": Kind.LENGTH},
    "text": dict(_TEXT_POS),
    "tspan": dict(_TEXT_POS),
    "title": {},
    "desc": {},
    "style": {"type": Kind.CSS_TYPE},
    "linearGradient": {
        "x1": Kind.LENGTH,
        "y1": Kind.LENGTH,
        "x2": Kind.LENGTH,
        "y2": Kind.LENGTH,
        **_GRADIENT,
    },
    "radialGradient": {
        "cx": Kind.LENGTH,
        "cy": Kind.LENGTH,
        "r": Kind.LENGTH,
        "fx": Kind.LENGTH,
        "fy": Kind.LENGTH,
        "fr": Kind.LENGTH,
        **_GRADIENT,
    },
    "stop": {"offset": Kind.LENGTH},
    "clipPath": {"clipPathUnits": Kind.KEYWORD},
    "mask": {**_XY, **_WH, "maskUnits": Kind.KEYWORD, "maskContentUnits": Kind.KEYWORD},
}


def attribute_kind(element: str, name: str) -> Kind | None:
    own = ELEMENTS.get(element, {})
    return own.get(name) or _CORE.get(name) or PRESENTATION.get(name)
