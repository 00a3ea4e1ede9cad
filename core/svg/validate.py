"""Structural checks on a sanitised tree, reported per design (importers and generation show the reasons)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.svg.allowlist import CSS_PROPERTIES, attribute_kind
from core.svg.limits import number_errors
from core.svg.parse import SvgError, parse_svg, split_tag
from core.svg.path_data import parse_path
from core.svg.sanitise import sanitise_tree
from core.svg.values import Kind, referenced_ids

MAX_ELEMENTS = 20_000
# <use> can multiply content ("billion laughs" with <use>); refuse before the renderer sees it.
MAX_RENDERED_ELEMENTS = 100_000
SHAPES = frozenset({"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "text", "use"})
# Content of these is only drawn when referenced.
_NOT_RENDERED = frozenset({"defs", "clipPath", "mask", "symbol", "linearGradient", "radialGradient"})
_PAINT_PROPS = frozenset(name for name, kind in CSS_PROPERTIES.items() if kind is Kind.PAINT)
_URL_RE = re.compile(r"url\([^)]*\)")
_DECL_RE = re.compile(r"([a-z\-]+)\s*:\s*([^;{}]+)")


@dataclass(frozen=True)
class ValidationReport:
    ok: bool
    errors: tuple[str, ...] = ()  # reasons the design is unacceptable
    warnings: tuple[str, ...] = ()  # accepted, but probably not what was meant (e.g. broken path data)
    removals: tuple[str, ...] = ()  # what sanitising removed
    element_counts: dict[str, int] = field(default_factory=dict)
    colours: tuple[str, ...] = ()  # distinct paint values used (lower-cased), sorted

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for storing per-row import/generation reasons."""
        return {
            "ok": self.ok,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "removals": list(self.removals),
            "element_counts": dict(self.element_counts),
            "colours": list(self.colours),
        }


def _colours_in(value: str) -> list[str]:
    value = _URL_RE.sub(" ", value).strip().lower()
    return [value] if value and value not in ("none", "inherit") else []


def _rendered_count(root: ET.Element, by_id: dict[str, ET.Element]) -> int | None:
    """Elements drawn once <use> references are expanded (capped); None on a reference cycle."""
    counts: dict[int, int] = {}
    on_stack: set[int] = set()
    # Iterative post-order DFS over child and <use> edges (recursion could hit the stack limit).
    stack: list[tuple[ET.Element, bool]] = [(root, False)]
    while stack:
        el, done = stack.pop()
        key = id(el)
        deps = list(el)
        target = None
        if split_tag(el.tag)[1] == "use":
            target = by_id.get((el.get("href") or "")[1:])
            if target is not None:
                deps.append(target)
        if done:
            on_stack.discard(key)
            total = 1 + sum(counts[id(d)] for d in deps)
            counts[key] = min(total, MAX_RENDERED_ELEMENTS + 1)
            continue
        if key in counts:
            continue
        if key in on_stack:
            return None
        on_stack.add(key)
        stack.append((el, True))
        for d in deps:
            if id(d) in on_stack:
                return None
            if id(d) not in counts:
                stack.append((d, False))
    return counts[id(root)]


def validate_tree(root: ET.Element, removals: tuple[str, ...] | list[str] = ()) -> ValidationReport:
    """Validate a tree that sanitise_tree() has already cleaned."""
    errors: list[str] = []
    warnings: list[str] = []
    counts: Counter[str] = Counter()
    colours: set[str] = set()
    by_id: dict[str, ET.Element] = {}
    refs: list[tuple[str, str]] = []
    drawable = 0

    stack: list[tuple[ET.Element, bool]] = [(root, False)]
    while stack:
        el, hidden = stack.pop()
        local = split_tag(el.tag)[1]
        counts[local] += 1
        hidden = hidden or local in _NOT_RENDERED
        if local in SHAPES and not hidden:
            drawable += 1
        for key, value in el.attrib.items():
            name = split_tag(key)[1]
            if name == "id":
                if value in by_id:
                    warnings.append(f"duplicate id {value!r}")
                else:
                    by_id[value] = el
                continue
            kind = attribute_kind(local, name)
            if kind is not None:
                refs.extend((local, ref) for ref in referenced_ids(kind, value))
                if kind is Kind.PAINT:
                    colours.update(_colours_in(value))
        css = (el.get("style") or "") + (";" + el.text if local == "style" and el.text else "")
        for prop, value in _DECL_RE.findall(css):
            if prop in _PAINT_PROPS:
                colours.update(_colours_in(value))
                refs.extend((local, ref) for ref in referenced_ids(Kind.PAINT, value.strip()))
        if local == "path" and parse_path(el.get("d") or "") in (None, []):
            warnings.append(
                f"invalid or empty path data in <path>{' #' + el.get('id', '') if el.get('id') else ''}"
            )
        stack.extend((child, hidden) for child in reversed(el))

    problems = number_errors(root, attribute_kind, CSS_PROPERTIES)
    if problems:
        errors.append(f"Numbers out of range: {' '.join(problems)}")
    total = sum(counts.values())
    if total > MAX_ELEMENTS:
        errors.append(f"SVG has {total:,} elements; the limit is {MAX_ELEMENTS:,}.")
    if drawable == 0:
        errors.append("SVG has nothing to draw.")
    for local, ref in refs:
        if ref not in by_id:
            warnings.append(f"<{local}> references #{ref}, which does not exist")
    # Without <use>, every element is drawn once: the count is the total (the walk costs ~10% of a clean).
    rendered = _rendered_count(root, by_id) if counts["use"] else total
    if rendered is None:
        errors.append("SVG has <use> elements that reference each other in a loop.")
    elif rendered > MAX_RENDERED_ELEMENTS:
        errors.append(f"SVG expands (through <use>) to more than {MAX_RENDERED_ELEMENTS:,} elements.")

    return ValidationReport(
        ok=not errors,
        errors=tuple(errors),
        warnings=tuple(dict.fromkeys(warnings)),
        removals=tuple(removals),
        element_counts=dict(sorted(counts.items())),
        colours=tuple(sorted(colours)),
    )


def validate_svg(text: str | bytes, *, strict: bool = False) -> ValidationReport:
    """Report on untrusted SVG text without raising. With strict=True, anything sanitising would remove is
    an error too (for sources that must already be clean)."""
    try:
        root = parse_svg(text)
        removals = sanitise_tree(root)
    except SvgError as exc:
        return ValidationReport(ok=False, errors=(str(exc),))
    report = validate_tree(root, removals)
    if strict and removals:
        errors = report.errors + tuple(f"unsafe or unsupported content: {r}" for r in removals)
        return ValidationReport(
            ok=False,
            errors=errors,
            warnings=report.warnings,
            removals=report.removals,
            element_counts=report.element_counts,
            colours=report.colours,
        )
    return report
