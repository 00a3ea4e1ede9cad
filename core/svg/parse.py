"""Safe parsing: DTDs, entities and external references refused; size-capped; a single <svg> root."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_SVG_BYTES = 1_000_000
# Deeper trees are never real designs, and the tree walkers recurse: refuse before they can blow the stack.
MAX_DEPTH = 100

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_VIEWBOX_RE = re.compile(
    rf"^\s*({_NUM})(?:\s*,\s*|\s+)({_NUM})(?:\s*,\s*|\s+)({_NUM})(?:\s*,\s*|\s+)({_NUM})\s*$"
)


class SvgError(ValueError):
    """Raised for any SVG that cannot be accepted; the message is safe to show to a user."""


def split_tag(tag: str) -> tuple[str | None, str]:
    """'{ns}local' -> (ns, local); 'local' -> (None, local)."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def parse_view_box(value: str | None) -> tuple[float, float, float, float] | None:
    """Four numbers with a positive width and height, or None."""
    if value is None:
        return None
    m = _VIEWBOX_RE.match(value)
    if not m:
        return None
    x, y, w, h = (float(g) for g in m.groups())
    if not all(abs(v) < 1e15 for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return None
    return x, y, w, h


def _check_depth(root: ET.Element, max_depth: int) -> None:
    # Explicit stack: recursion here would defeat the purpose.
    stack: list[tuple[ET.Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > max_depth:
            raise SvgError(f"SVG elements are nested more than {max_depth} levels deep.")
        stack.extend((child, depth + 1) for child in el)


def parse_svg(
    text: str | bytes, *, max_bytes: int = MAX_SVG_BYTES, require_viewbox: bool = True
) -> ET.Element:
    """Parse untrusted SVG text into an ElementTree element, refusing anything unsafe or malformed.

    Comments and processing instructions (e.g. <?xml-stylesheet?>) are dropped by the parser itself.
    """
    if not isinstance(text, str | bytes):
        raise SvgError("SVG must be text.")
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > max_bytes:
        raise SvgError(f"SVG is {len(raw):,} bytes; the limit is {max_bytes:,}.")
    if not raw.strip():
        raise SvgError("SVG is empty.")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise SvgError("SVG refused: it contains a DOCTYPE (DTD), which is not allowed.") from exc
    except EntitiesForbidden as exc:
        raise SvgError("SVG refused: it declares XML entities, which are not allowed.") from exc
    except ExternalReferenceForbidden as exc:
        raise SvgError("SVG refused: it references an external resource, which is not allowed.") from exc
    except DefusedXmlException as exc:
        raise SvgError("SVG refused: it uses XML features that are not allowed.") from exc
    except ET.ParseError as exc:
        raise SvgError(f"SVG is not well-formed XML: {exc}.") from exc
    if root.tag not in (f"{{{SVG_NS}}}svg", "svg"):
        raise SvgError("The root element must be <svg>.")
    if require_viewbox:
        vb = root.get("viewBox")
        if not vb:
            raise SvgError("The <svg> root must have a viewBox.")
        if parse_view_box(vb) is None:
            raise SvgError("The viewBox must be four numbers with a positive width and height.")
    _check_depth(root, MAX_DEPTH)
    return root
