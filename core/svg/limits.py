"""Caps that keep one document's cost bounded, each refused with its reason (SvgError, or a validation
error): stylesheet rules, selectors and declarations (checked on the raw text, before the sanitiser spends
time on them), and the magnitude of every number a coordinate, length or transform holds (1e308 is a
valid float that overflows to infinity as soon as anything scales it; `inf` and `nan` are not numbers)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from core.svg.numbers import NUM
from core.svg.parse import SvgError, split_tag
from core.svg.values import Kind

MAX_STYLE_RULES = 256  # over every <style> element of a document
MAX_STYLE_SELECTORS = 1024
MAX_SELECTOR_CHARS = 512  # one rule's selector list
MAX_STYLE_DECLARATIONS = 4096  # in <style> elements and style attributes together
MAX_COORDINATE = 1e6  # icons are drawn in tens or thousands of units

_COMMENT_RE = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_PRELUDE_RE = re.compile(r"([^{};]*)\{")
_NUM_RE = re.compile(NUM)
_NOT_FINITE_RE = re.compile(r"(?<![A-Za-z])(?:inf(?:inity)?|nan)(?![A-Za-z])", re.IGNORECASE)
NUMERIC_KINDS = frozenset({Kind.LENGTH, Kind.LENGTHS, Kind.VIEWBOX, Kind.PATH, Kind.POINTS, Kind.TRANSFORM})


def check_stylesheets(root: ET.Element) -> None:
    """SvgError when the document's stylesheets exceed the caps (before sanitising them)."""
    rules = selectors = declarations = 0
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        style = el.get("style")
        if style:
            declarations += style.count(";") + 1
        if split_tag(el.tag)[1] != "style" or not el.text:
            continue
        css = _COMMENT_RE.sub(" ", el.text)
        declarations += css.count(";") + css.count("}")
        for prelude in _PRELUDE_RE.findall(css):
            rules += 1
            selectors += prelude.count(",") + 1
            if len(prelude.strip()) > MAX_SELECTOR_CHARS:
                raise SvgError(
                    f"A stylesheet rule's selector is {len(prelude.strip()):,} characters long; "
                    f"the limit is {MAX_SELECTOR_CHARS:,}."
                )
    if rules > MAX_STYLE_RULES:
        raise SvgError(f"The stylesheet has {rules:,} rules; the limit is {MAX_STYLE_RULES:,}.")
    if selectors > MAX_STYLE_SELECTORS:
        raise SvgError(f"The stylesheet has {selectors:,} selectors; the limit is {MAX_STYLE_SELECTORS:,}.")
    if declarations > MAX_STYLE_DECLARATIONS:
        raise SvgError(
            f"The styles hold {declarations:,} declarations; the limit is {MAX_STYLE_DECLARATIONS:,}."
        )


def number_problem(value: str) -> str | None:
    """Why a numeric value (an attribute or CSS value of a numeric kind) is refused, or None."""
    if _NOT_FINITE_RE.search(value):
        return f"{_NOT_FINITE_RE.search(value).group(0)!r} is not a finite number"
    for token in _NUM_RE.findall(value):
        x = float(token)
        if not math.isfinite(x) or abs(x) > MAX_COORDINATE:
            shown = token if len(token) <= 24 else token[:23] + "…"
            return f"{shown} is beyond ±{MAX_COORDINATE:g}"
    return None


_DECL_RE = re.compile(r"([a-z\-]+)\s*:\s*([^;{}]+)")


def number_errors(
    root: ET.Element, attribute_kind: Callable[[str, str], Kind | None], css_properties: Mapping[str, Kind]
) -> list[str]:
    """Every numeric attribute or CSS value whose numbers are not finite or beyond ±MAX_COORDINATE
    (the first few, in words); the kinds come from the sanitiser's tables."""
    found: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = split_tag(el.tag)[1]
        for key, value in el.attrib.items():
            name = split_tag(key)[1]
            if name != "style" and attribute_kind(local, name) in NUMERIC_KINDS:
                problem = number_problem(value)
                if problem:
                    found.append(f"<{local}> {name}: {problem}.")
        css = (el.get("style") or "") + (";" + el.text if local == "style" and el.text else "")
        for prop, value in _DECL_RE.findall(css):
            if css_properties.get(prop) in NUMERIC_KINDS:
                problem = number_problem(value)
                if problem:
                    found.append(f"<{local}> CSS {prop}: {problem}.")
        if len(found) >= 5:
            break
    return found[:5]
