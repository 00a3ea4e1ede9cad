"""Presentation of an element: its style="" declarations and presentation attributes, read one way.

(Sanitising CSS is core.svg.css's; this reads what the sanitiser left.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse_style(text: str | None) -> dict[str, str]:
    """'fill: red; stroke-width:2' -> {'fill': 'red', 'stroke-width': '2'} (names lower-cased)."""
    decls: dict[str, str] = {}
    for part in (text or "").split(";"):
        name, sep, value = part.partition(":")
        if sep and name.strip() and value.strip():
            decls[name.strip().lower()] = value.strip()
    return decls


def format_style(decls: dict[str, str]) -> str:
    return ";".join(f"{name}:{value}" for name, value in decls.items())


def presentation(el: ET.Element) -> dict[str, str]:
    """The element's own presentation: its plain attributes, with style declarations taking precedence
    (as CSS gives them)."""
    props = {k: v for k, v in el.attrib.items() if "}" not in k}
    props.pop("style", None)
    props.update(parse_style(el.get("style")))
    return props


def local_name(tag: object) -> str:
    """'{namespace}circle' -> 'circle'; '' for comments and processing instructions."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
