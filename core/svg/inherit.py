"""Paint inheritance, one way for every reader of a drawing (the model form's encoder, the adherence
check, the style guide): which properties an element takes from its parent, which stay its own, SVG's
initial values, and what currentColor means.

An element's *own* declarations (presentation attributes, stylesheet rules, style="") are the caller's to
gather, since the model form also applies stylesheets; `computed` turns them and the parent's computed
properties into the element's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping

from core.svg.colour import parse_colour
from core.svg.style import presentation

# Inherited by every descendant that does not set its own (SVG 1.1 property index, paint subset).
INHERITED = (
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-dasharray",
    "stroke-opacity",
    "color",
    "visibility",
)
# Apply to the element that sets them (a group's opacity, display, clip or mask covers its content as a
# whole), never passed down as values.
OWN_ONLY = ("opacity", "display", "clip-path", "mask")
PROPERTIES = frozenset(INHERITED + OWN_ONLY)
INITIAL: dict[str, str] = {
    "fill": "black",
    "fill-opacity": "1",
    "fill-rule": "nonzero",
    "stroke": "none",
    "stroke-width": "1",
    "stroke-linecap": "butt",
    "stroke-linejoin": "miter",
    "stroke-dasharray": "none",
    "stroke-opacity": "1",
    "color": "black",
    "visibility": "visible",
}


def computed(parent: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    """An element's computed paint properties: the parent's inherited ones, overridden by its own
    (`inherit` keeps the parent's), plus its own-only ones. `parent` is INITIAL for the root."""
    props = {k: v for k, v in parent.items() if k in INHERITED}
    for k, v in own.items():
        value = v.strip()
        if k not in PROPERTIES or value.lower() == "inherit":
            continue
        if k == "color" and (value.lower() == "currentcolor" or parse_colour(value) is None):
            continue  # `color: currentColor` is the parent's; an invalid colour is ignored
        props[k] = value
    return props


def resolve_current_colour(value: str, props: Mapping[str, str]) -> str:
    """A paint value with currentColor replaced by the element's computed `color` (the keyword inherits
    as itself and resolves against the element that uses it)."""
    return props.get("color", INITIAL["color"]) if value.strip().lower() == "currentcolor" else value


def opacity_of(value: str | None) -> float:
    """A 0-1 opacity (`0.5`, `50%`); 1 for absent or unreadable values, as renderers ignore those."""
    if value is None:
        return 1.0
    v = value.strip()
    try:
        x = float(v[:-1]) / 100 if v.endswith("%") else float(v)
    except ValueError:
        return 1.0
    return max(0.0, min(1.0, x)) if x == x else 1.0  # NaN: ignored


def walk_computed(root: ET.Element) -> Iterator[tuple[ET.Element, dict[str, str]]]:
    """Every element in document order with its computed properties from plain presentation (attributes
    and style=""; no stylesheet)."""
    stack = [(root, computed(INITIAL, presentation(root)))]
    while stack:
        el, props = stack.pop()
        yield el, props
        stack.extend((child, computed(props, presentation(child))) for child in reversed(list(el)))
