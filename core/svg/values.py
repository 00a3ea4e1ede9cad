"""Attribute/CSS value grammar: what each value kind may look like, and its canonical (rounded) form.

Validation is an allow-list per kind: a value that does not match its grammar is dropped, which is what
keeps `javascript:`, `data:`, `url(http://…)`, `expression(` and friends out, however they are obfuscated
(the XML parser has already decoded entities, so obfuscation is just characters the grammars refuse).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from core.svg.numbers import NUM, fmt_number
from core.svg.path_data import normalise_path

R = TypeVar("R")

_NUM_RE = re.compile(NUM)
_UNIT = r"(?:px|pt|pc|mm|cm|in|em|ex|rem|%)"
_LENGTH_RE = re.compile(rf"^({NUM})({_UNIT})?$", re.IGNORECASE)
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z\-]*$")
_SEP_RE = re.compile(r"(?:\s*,\s*|\s+)")
ID = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ID_RE = re.compile(rf"^{ID}$")
_CLASS_RE = re.compile(r"^[A-Za-z0-9_\-\s]*$")
_KEYWORD_RE = re.compile(r"^[A-Za-z0-9\-\s.,%]*$")
_FONT_RE = re.compile(r"^[A-Za-z0-9\s,'\"\-_./%]*$")
_HREF_RE = re.compile(rf"^#({ID})$")
_COLOR = r"(?:#[0-9a-fA-F]{3,8}|(?:rgba?|hsla?)\((?:[0-9.,%\s+\-/]|deg|turn|rad)*\)|[A-Za-z][A-Za-z\-]*)"
_URL = rf"url\(\s*(?P<q>['\"]?)#(?P<id>{ID})(?P=q)\s*\)"
_PAINT_RE = re.compile(rf"^(?:{_COLOR}|{_URL}(?:\s+{_COLOR})?)$")
_URL_REF_RE = re.compile(rf"^(?:none|inherit|{_URL})$")
_URL_ID_RE = re.compile(_URL)
_TRANSFORM_FN = r"(?:matrix|translate|scale|rotate|skewX|skewY)"
_TRANSFORM_RE = re.compile(rf"^\s*(?:{_TRANSFORM_FN}\s*\(\s*{NUM}(?:(?:\s*,\s*|\s+){NUM})*\s*\)\s*,?\s*)*$")
_TRANSFORM_ITEM_RE = re.compile(rf"({_TRANSFORM_FN})\s*\(([^)]*)\)")
_PATH_CHARS_RE = re.compile(r"^[MmZzLlHhVvCcSsQqTtAa0-9eE.,+\-\s]*$")
_POINTS_RE = re.compile(rf"^\s*(?:{NUM}(?:(?:\s*,\s*|\s+){NUM})*)?\s*$")
_HEX_RE = re.compile(r"#[0-9a-fA-F]{3,8}\b")

# Defence in depth: even a value that passed its grammar must not contain these once whitespace,
# control characters and backslashes (CSS escapes) are removed.
_DANGEROUS = (
    "javascript:",
    "vbscript:",
    "data:",
    "expression(",
    "@import",
    "behavior",
    "-moz-binding",
    "<",
    ">",
)


class Kind(Enum):
    LENGTH = "length"  # one number (optional unit) or a keyword
    LENGTHS = "lengths"  # list of numbers/lengths, or a keyword
    VIEWBOX = "viewbox"
    PATH = "path"
    POINTS = "points"
    TRANSFORM = "transform"
    PAINT = "paint"
    URL_REF = "url_ref"  # clip-path, mask: none or url(#id)
    HREF = "href"  # same-document #id only
    ID = "id"
    CLASS = "class"
    KEYWORD = "keyword"
    FONT = "font"
    SPACE = "space"  # xml:space
    CSS_TYPE = "css_type"


def _short_values_cached(fn: Callable[..., R]) -> Callable[..., R]:
    """Memoise a pure check or normalisation of an attribute value, for values of up to CACHE_CHARS
    characters: designs repeat their colours, lengths and transforms, and imports check thousands of
    designs. Longer values (most path data) are computed each time, so the cache stays small."""
    cached = functools.lru_cache(maxsize=CACHE_ENTRIES)(fn)

    @functools.wraps(fn)
    def call(*args: Any) -> R:
        value = args[1] if len(args) > 1 else args[0]
        return cached(*args) if len(value) <= CACHE_CHARS else fn(*args)

    call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return call


CACHE_CHARS = 200
CACHE_ENTRIES = 16_384  # at most ~16k entries of ≤ 200 characters each: a few MB


@_short_values_cached
def is_dangerous(value: str) -> bool:
    squashed = re.sub(r"[\s\x00-\x1f\x7f\\]+", "", value).lower()
    if any(token in squashed for token in _DANGEROUS):
        return True
    # Any url( must be a same-document reference.
    return any(not squashed[m.end() :].lstrip("'\"").startswith("#") for m in re.finditer(r"url\(", squashed))


def _is_lengths(value: str) -> bool:
    if _WORD_RE.match(value):
        return True
    parts = [p for p in _SEP_RE.split(value) if p]
    return bool(parts) and all(_LENGTH_RE.match(p) for p in parts)


@_short_values_cached
def valid_value(kind: Kind, value: str) -> str | None:
    """Return the (whitespace-stripped) value if it is allowed for this kind, else None."""
    v = value.strip()
    if is_dangerous(v):
        return None
    ok: bool
    match kind:
        case Kind.LENGTH:
            ok = bool(_LENGTH_RE.match(v) or _WORD_RE.match(v))
        case Kind.LENGTHS:
            ok = _is_lengths(v)
        case Kind.VIEWBOX:
            parts = [p for p in _SEP_RE.split(v) if p]
            ok = len(parts) == 4 and all(_NUM_RE.fullmatch(p) for p in parts)
        case Kind.PATH:
            ok = bool(_PATH_CHARS_RE.match(v))
        case Kind.POINTS:
            ok = bool(_POINTS_RE.match(v))
        case Kind.TRANSFORM:
            ok = bool(_TRANSFORM_RE.match(v))
        case Kind.PAINT:
            ok = bool(_PAINT_RE.match(v))
        case Kind.URL_REF:
            ok = bool(_URL_REF_RE.match(v))
        case Kind.HREF:
            ok = bool(_HREF_RE.match(v))
        case Kind.ID:
            ok = bool(_ID_RE.match(v))
        case Kind.CLASS:
            ok = bool(_CLASS_RE.match(v))
        case Kind.KEYWORD:
            ok = bool(_KEYWORD_RE.match(v))
        case Kind.FONT:
            ok = bool(_FONT_RE.match(v))
        case Kind.SPACE:
            ok = v in ("default", "preserve")
        case Kind.CSS_TYPE:
            ok = v == "text/css"
    return v if ok else None


def referenced_ids(kind: Kind, value: str) -> list[str]:
    """Ids a value points at (href="#a", fill="url(#a)")."""
    if kind is Kind.HREF:
        return [value[1:]] if value.startswith("#") else []
    if kind in (Kind.PAINT, Kind.URL_REF):
        return [m.group("id") for m in _URL_ID_RE.finditer(value)]
    return []


# ---------------------------------------------------------------------------------------------------------
# Canonical forms


def _fmt_token(token: str, precision: int) -> str:
    x = float(token)
    return fmt_number(x, precision) if math.isfinite(x) else token


def _norm_length(v: str, precision: int) -> str:
    m = _LENGTH_RE.match(v)
    if not m:
        return v
    unit = (m.group(2) or "").lower()
    return _fmt_token(m.group(1), precision) + unit


def _norm_lengths(v: str, precision: int) -> str:
    if _WORD_RE.match(v):
        return v
    return " ".join(_norm_length(p, precision) for p in _SEP_RE.split(v) if p)


def _norm_points(v: str, precision: int) -> str:
    nums = [_fmt_token(t, precision) for t in _NUM_RE.findall(v)]
    if len(nums) % 2:
        return " ".join(nums)
    return " ".join(f"{nums[i]},{nums[i + 1]}" for i in range(0, len(nums), 2))


def _norm_transform(v: str, precision: int) -> str:
    items = []
    for name, args in _TRANSFORM_ITEM_RE.findall(v):
        nums = " ".join(_fmt_token(t, precision) for t in _NUM_RE.findall(args))
        items.append(f"{name}({nums})")
    return " ".join(items)


def _norm_paint(v: str) -> str:
    return _HEX_RE.sub(lambda m: m.group(0).lower(), v)


@_short_values_cached
def normalise_value(kind: Kind, value: str, precision: int) -> str:
    """Canonical form of an already-valid value (numbers rounded to `precision` decimals)."""
    match kind:
        case Kind.LENGTH:
            return _norm_length(value, precision)
        case Kind.LENGTHS | Kind.VIEWBOX:
            return _norm_lengths(value, precision)
        case Kind.PATH:
            return normalise_path(value, precision)
        case Kind.POINTS:
            return _norm_points(value, precision)
        case Kind.TRANSFORM:
            return _norm_transform(value, precision)
        case Kind.PAINT:
            return _norm_paint(value)
        case Kind.KEYWORD | Kind.FONT | Kind.CLASS:
            return " ".join(value.split())
        case _:
            return value
