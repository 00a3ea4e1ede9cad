"""Deterministic SVG writer for sanitised trees.

ElementTree's own writer invents `ns0:` prefixes and keeps attribute insertion order; this one writes a
single default xmlns on the root, local element names, and attributes sorted by name, so the same
design always produces the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from core.svg.parse import SVG_NS, XML_NS, split_tag


def _escape_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(s: str) -> str:
    # Tabs/newlines escaped so they survive XML attribute-value normalisation on re-parse.
    return _escape_text(s).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _attr_key(key: str) -> str:
    ns, local = split_tag(key)
    return f"xml:{local}" if ns == XML_NS else local


def _write(el: ET.Element, out: list[str], *, root: bool) -> None:
    tag = split_tag(el.tag)[1]
    attrs = sorted((_attr_key(k), v) for k, v in el.attrib.items())
    out.append(f"<{tag}")
    if root:
        out.append(f' xmlns="{SVG_NS}"')
    for k, v in attrs:
        out.append(f' {k}="{_escape_attr(v)}"')
    if not el.text and len(el) == 0:
        out.append("/>")
    else:
        out.append(">")
        if el.text:
            out.append(_escape_text(el.text))
        for child in el:
            _write(child, out, root=False)
            if child.tail:
                out.append(_escape_text(child.tail))
        out.append(f"</{tag}>")


def serialise(root: ET.Element) -> str:
    """Serialise a sanitised tree (local tag names, only xml:* namespaced attributes)."""
    out: list[str] = []
    _write(root, out, root=True)
    return "".join(out)
