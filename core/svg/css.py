"""Conservative CSS sanitising for `style=""` attributes and `<style>` elements.

CSS is not parsed in full: declarations are split, checked against the same property allow-list and
value grammars as presentation attributes, and rebuilt. At-rules (@import, @font-face, @media, …) are
dropped whole, as is anything containing a backslash (CSS escapes are the usual way to smuggle
`url(javascript:…)` past filters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.svg.values import Kind, is_dangerous, normalise_value, valid_value

_COMMENT_RE = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_PROPERTY_RE = re.compile(r"^-?[a-z][a-z0-9\-]*$")
_SELECTOR_RE = re.compile(r"^[A-Za-z0-9_\-\s.#,>*+~:\[\]=\"']+$")
_IMPORTANT_RE = re.compile(r"\s*!\s*important\s*$", re.IGNORECASE)


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sanitise_declarations(
    css: str,
    properties: Mapping[str, Kind],
    where: str,
    removals: list[str],
    precision: int | None = None,
) -> str:
    """Keep allow-listed declarations with valid values; rebuild as 'a:1;b:2' sorted by property.

    Duplicates resolve as CSS would (last wins unless an earlier one is !important), so sorting does not
    change the cascade. With `precision`, numeric values are also rounded (normalisation).
    """
    css = _COMMENT_RE.sub(" ", css)
    kept: dict[str, tuple[str, bool]] = {}
    for raw in css.split(";"):
        if not raw.strip():
            continue
        name, sep, value = raw.partition(":")
        name = name.strip().lower()
        if not sep or not _PROPERTY_RE.match(name):
            removals.append(f"removed CSS declaration {_short(raw)!r} in {where}")
            continue
        if name not in properties:
            removals.append(f"removed CSS property {_short(name)} in {where}")
            continue
        important = bool(_IMPORTANT_RE.search(value))
        value = _IMPORTANT_RE.sub("", value)
        clean = None if "\\" in value else valid_value(properties[name], value)
        if clean is None:
            removals.append(f"removed CSS property {name} in {where}: value not allowed")
            continue
        clean = " ".join(clean.split())
        if precision is not None:
            clean = normalise_value(properties[name], clean, precision)
        if name in kept and kept[name][1] and not important:
            continue
        kept[name] = (clean, important)
    return ";".join(f"{k}:{v}{' !important' if imp else ''}" for k, (v, imp) in sorted(kept.items()))


def _skip_block(css: str, i: int) -> int:
    """Index just past the '}' that closes the '{' at css[i] (or len(css))."""
    depth = 0
    while i < len(css):
        if css[i] == "{":
            depth += 1
        elif css[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def sanitise_stylesheet(
    css: str,
    properties: Mapping[str, Kind],
    where: str,
    removals: list[str],
    precision: int | None = None,
) -> str:
    """Rebuild a stylesheet from plain `selector{declarations}` rules; everything else is dropped."""
    css = _COMMENT_RE.sub(" ", css)
    rules: list[str] = []
    i, n = 0, len(css)
    while i < n:
        if css[i].isspace():
            i += 1
            continue
        if css[i] == "@":
            name = re.match(r"@[\w\-]*", css[i:])
            semi, brace = css.find(";", i), css.find("{", i)
            if brace != -1 and (semi == -1 or brace < semi):
                i = _skip_block(css, brace)
            else:
                i = n if semi == -1 else semi + 1
            removals.append(f"removed CSS at-rule {_short(name.group(0) if name else '@')} in {where}")
            continue
        brace = css.find("{", i)
        if brace == -1:
            removals.append(f"removed unparseable CSS {_short(css[i:])!r} in {where}")
            break
        selector = " ".join(css[i:brace].split())
        end = _skip_block(css, brace)
        body = css[brace + 1 : end - 1] if css[end - 1 : end] == "}" else css[brace + 1 : end]
        i = end
        if "{" in body or not _SELECTOR_RE.match(selector) or is_dangerous(selector.replace(">", " ")):
            removals.append(f"removed CSS rule {_short(selector)!r} in {where}")
            continue
        decls = sanitise_declarations(body, properties, where, removals, precision)
        if decls:
            rules.append(f"{selector}{{{decls}}}")
    return "".join(rules)
