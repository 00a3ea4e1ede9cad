"""Allow-list sanitiser: only known-safe elements, attributes and values survive.

Everything not listed is removed and reported; nothing is "fixed up" except `<a>`/`<switch>` (turned
into `<g>` so their drawing survives) and `xlink:href` (rewritten as plain `href`, which resvg and
browsers read the same way).

Text policy: the text of `<title>`, `<desc>`, `<text>` and `<tspan>` is kept, but never anything in it that
reads as markup if a consumer shows it as HTML (a title as a tooltip through innerHTML, say): tags,
comments and declarations (`<img src=x onerror=...>` written as escaped text, closed or not), a `<` that
could start one when pieces of text are joined, event-handler assignments (`onerror=`) and script URL
schemes (`javascript:`) are removed and reported. `<title>` and `<desc>` hold plain text only: elements
inside them are removed, their text kept (and checked the same way).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from core.svg.allowlist import CSS_PROPERTIES, ELEMENTS, attribute_kind
from core.svg.css import sanitise_declarations, sanitise_stylesheet
from core.svg.limits import check_stylesheets, number_errors
from core.svg.parse import SVG_NS, XLINK_NS, XML_NS, SvgError, parse_svg, split_tag
from core.svg.serialise import serialise
from core.svg.values import valid_value

# Containers whose text content means something; elsewhere text is dropped.
TEXT_ELEMENTS = frozenset({"text", "tspan", "title", "desc", "style"})
# Human-readable text: checked for markup-like content (the text policy above). <style> is CSS (css.py).
PROSE_ELEMENTS = frozenset({"text", "tspan", "title", "desc"})
PLAIN_TEXT_ELEMENTS = frozenset({"title", "desc"})  # no child elements either
_MARKUP_LIKE = (
    re.compile(r"<[/!?a-zA-Z][^<>]*>?"),  # a tag, end tag, comment, declaration or PI, closed or not
    re.compile(r"<(?!\s+[^\s<])"),  # a "<" that could start one when texts are joined ("a < b" stays)
    re.compile(r"\bon[a-z]+\s*=", re.IGNORECASE),  # an event handler assignment
    re.compile(r"\b(?:java|vb)script\s*:|\bdata\s*:\s*text/html", re.IGNORECASE),  # script URL schemes
)
# Turned into <g>: their children are legitimate drawing, only their own behaviour is not.
UNWRAP_AS_G = frozenset({"a", "switch"})
MAX_REMOVALS_LISTED = 200


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_tag(tag: str) -> str:
    ns, local = split_tag(tag)
    if ns in (None, SVG_NS):
        return f"<{_short(local)}>"
    return f"<{_short(local)}> (namespace {_short(ns or '', 60)})"


def _attr_name(key: str) -> str | None:
    """Our name for an attribute key, or None for attributes in foreign namespaces."""
    ns, local = split_tag(key)
    if ns is None:
        return local
    if ns == XLINK_NS and local == "href":
        return "href"
    if ns == XML_NS and local in ("space", "lang"):
        return f"xml:{local}"
    return None


def _display_name(key: str) -> str:
    ns, local = split_tag(key)
    prefix = {None: "", XLINK_NS: "xlink:", XML_NS: "xml:"}.get(ns, f"{{{_short(ns or '', 60)}}}")
    return prefix + _short(local)


def _drop_text(el: ET.Element, removals: list[str], where: str) -> None:
    if el.text and el.text.strip():
        removals.append(f"removed text content in {where}")
        el.text = None


def strip_markup_like(text: str) -> str:
    """`text` without anything that reads as markup (the text policy); repeated until nothing changes,
    so removing one piece cannot leave another behind."""
    previous = None
    while previous != text:
        previous = text
        for pattern in _MARKUP_LIKE:
            text = pattern.sub("", text)
    return text


def _clean_prose(el: ET.Element, local: str, removals: list[str]) -> None:
    """Apply the text policy to an element's own text and to the text after each of its children."""
    if local in PLAIN_TEXT_ELEMENTS and len(el):
        text = "".join(el.itertext())
        for child in list(el):
            removals.append(f"removed element {_describe_tag(child.tag)} inside <{local}>")
            el.remove(child)
        el.text = text or None
    changed = False
    for node, attr in [(el, "text"), *((child, "tail") for child in el)]:
        value = getattr(node, attr)
        if value:
            clean = strip_markup_like(value)
            if clean != value:
                setattr(node, attr, clean or None)
                changed = True
    if changed:
        removals.append(f"removed markup-like text in <{local}>")


def _sanitise_attributes(el: ET.Element, local: str, removals: list[str]) -> None:
    where = f"<{local}>"
    old = dict(el.attrib)
    el.attrib.clear()
    new: dict[str, str] = {}
    # Plain href wins over xlink:href (SVG 2), so process plain names first.
    for key in sorted(old, key=lambda k: k.startswith("{")):
        value = old[key]
        name = _attr_name(key)
        shown = _display_name(key)
        if name is None:
            removals.append(f"removed attribute {shown} on {where}")
            continue
        if name in new:
            removals.append(f"removed attribute {shown} on {where}: duplicate of {name}")
            continue
        if name == "style":
            clean = sanitise_declarations(value, CSS_PROPERTIES, f"style on {where}", removals)
            if clean:
                new["style"] = clean
            elif value.strip():
                removals.append(f"removed attribute style on {where}: nothing allowed left")
            continue
        kind = attribute_kind(local, name)
        if kind is None:
            removals.append(f"removed attribute {shown} on {where}")
            continue
        clean_value = valid_value(kind, value)
        if clean_value is None:
            removals.append(f"removed attribute {shown} on {where}: value not allowed")
            continue
        new[name] = clean_value
    for name, value in new.items():
        el.set(name if not name.startswith("xml:") else f"{{{XML_NS}}}{name[4:]}", value)


def sanitise_tree(root: ET.Element) -> list[str]:
    """Sanitise in place; return human-readable removals. The root is known to be <svg> (parse_svg)."""
    check_stylesheets(root)  # before any work on them: SvgError past the caps
    removals: list[str] = []
    root.tag = "svg"
    _sanitise_element(root, "svg", removals)
    return removals


def _sanitise_element(el: ET.Element, local: str, removals: list[str]) -> None:
    _sanitise_attributes(el, local, removals)
    where = f"<{local}>"
    if local == "style":
        for child in list(el):
            removals.append(f"removed element {_describe_tag(child.tag)} inside <style>")
            el.remove(child)
        if el.text is not None:
            el.text = sanitise_stylesheet(el.text, CSS_PROPERTIES, "<style>", removals) or None
        return
    is_text = local in TEXT_ELEMENTS
    if not is_text:
        _drop_text(el, removals, where)
    for child in list(el):
        ns, child_local = split_tag(child.tag)
        if ns in (None, SVG_NS) and child_local in UNWRAP_AS_G:
            removals.append(f"replaced element <{child_local}> with <g>")
            child_local = "g"
        if ns not in (None, SVG_NS) or child_local not in ELEMENTS:
            removals.append(f"removed element {_describe_tag(child.tag)}")
            _remove_keeping_tail(el, child, keep_tail=is_text)
            continue
        child.tag = child_local
        _sanitise_element(child, child_local, removals)
        if not is_text and child.tail and child.tail.strip():
            removals.append(f"removed text content in {where}")
            child.tail = None
    if local in PROSE_ELEMENTS:  # after the children: removing one may have joined two texts
        _clean_prose(el, local, removals)


def _remove_keeping_tail(parent: ET.Element, child: ET.Element, *, keep_tail: bool) -> None:
    """Remove `child`; inside text its tail is real text, so it moves to the previous node."""
    tail = child.tail if keep_tail else None
    idx = list(parent).index(child)
    parent.remove(child)
    if tail:
        if idx > 0:
            prev = parent[idx - 1]
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def cap_removals(removals: list[str]) -> tuple[str, ...]:
    if len(removals) <= MAX_REMOVALS_LISTED:
        return tuple(removals)
    extra = len(removals) - MAX_REMOVALS_LISTED
    return (*removals[:MAX_REMOVALS_LISTED], f"… and {extra} more removals")


@dataclass(frozen=True)
class SanitiseResult:
    svg: str  # clean SVG text (canonical serialisation, numbers untouched)
    removals: tuple[str, ...]  # what was removed and why, for the user

    @property
    def changed(self) -> bool:
        return bool(self.removals)


def sanitise(text: str | bytes) -> SanitiseResult:
    """Parse (refusing DTDs etc. with SvgError) and strip everything not allow-listed."""
    root = parse_svg(text)
    removals = sanitise_tree(root)
    problems = number_errors(root, attribute_kind, CSS_PROPERTIES)
    if problems:
        raise SvgError(f"Numbers out of range: {' '.join(problems)}")
    return SanitiseResult(svg=serialise(root), removals=cap_removals(removals))
