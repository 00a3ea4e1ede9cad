"""Canonical form of a sanitised SVG, so that equal designs serialise (and hash) equal.

Numbers are rounded to `precision` decimals (paths, points, transforms, viewBox, lengths, CSS),
path data and transforms are rewritten in one spelling, hex colours lower-cased, insignificant
whitespace dropped; the serialiser supplies attribute order and namespace handling.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

from core.svg.allowlist import CSS_PROPERTIES, attribute_kind
from core.svg.css import sanitise_declarations, sanitise_stylesheet
from core.svg.parse import XML_NS, parse_svg, parse_view_box, split_tag
from core.svg.sanitise import sanitise_tree
from core.svg.serialise import serialise
from core.svg.values import Kind, normalise_value

DEFAULT_PRECISION = 2
_SPACE_KEY = f"{{{XML_NS}}}space"


_XML_SPACE_RE = re.compile(r"[ \t\r\n]+")  # XML whitespace only: a no-break space is content


def _collapse(text: str | None) -> str | None:
    if text is None:
        return None
    return _XML_SPACE_RE.sub(" ", text) or None


def normalise_tree(root: ET.Element, precision: int = DEFAULT_PRECISION) -> None:
    """Normalise a tree that sanitise_tree() has already cleaned, in place."""
    if precision < 0:
        raise ValueError("precision must be >= 0")
    _normalise(root, precision, preserve_space=False)


def _normalise(el: ET.Element, precision: int, *, preserve_space: bool) -> None:
    local = split_tag(el.tag)[1]
    ignored: list[str] = []  # already sanitised, so nothing is removed here
    for key, value in list(el.attrib.items()):
        ns, name = split_tag(key)
        if ns == XML_NS:
            continue
        if name == "style":
            el.set(key, sanitise_declarations(value, CSS_PROPERTIES, "", ignored, precision))
            continue
        kind = attribute_kind(local, name)
        if kind is None:
            continue
        new = normalise_value(kind, value, precision)
        if kind is Kind.VIEWBOX and parse_view_box(new) is None:
            continue  # rounding would collapse a tiny viewBox to zero size: keep it as written
        el.set(key, new)
    preserve_space = {"preserve": True, "default": False}.get(el.get(_SPACE_KEY, ""), preserve_space)

    if local == "style":
        el.text = sanitise_stylesheet(el.text or "", CSS_PROPERTIES, "", ignored, precision) or None
        return
    if local in ("title", "desc"):
        el.text = _XML_SPACE_RE.sub(" ", el.text or "").strip(" ") or None
    elif local in ("text", "tspan"):
        if not preserve_space:
            el.text = _collapse(el.text)
            for child in el:
                child.tail = _collapse(child.tail)
    else:
        # Whitespace between drawing elements means nothing.
        el.text = None
        for child in el:
            child.tail = None
    for child in el:
        _normalise(child, precision, preserve_space=preserve_space)


def normalise(text: str | bytes, precision: int = DEFAULT_PRECISION) -> str:
    """Parse, sanitise and return the canonical SVG text (always safe: sanitising is not optional)."""
    root = parse_svg(text)
    sanitise_tree(root)
    normalise_tree(root, precision)
    return serialise(root)


def hash_normalised(normalised_svg: str) -> str:
    return hashlib.sha256(normalised_svg.encode("utf-8")).hexdigest()


def content_hash(svg_text: str | bytes, precision: int = DEFAULT_PRECISION) -> str:
    """sha256 hex of the normalised form: equal designs hash equal regardless of formatting."""
    return hash_normalised(normalise(svg_text, precision))
