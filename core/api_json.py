"""JSON from API clients, read strictly: NaN, infinities and numbers out of a float's range (1e400) are
refused, as are nesting deeper than MAX_JSON_DEPTH (a document of 5,000 `[` must not exhaust the stack) and
strings a database cannot store (NUL, unpaired surrogates). A refused body answers 400 in the error shape.

Its own module, free of rest_framework.views: DRF's settings (DEFAULT_PARSER_CLASSES) import it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL stores neither in text or jsonb


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_json(value: Any) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and strings with NUL or unpaired surrogates (walked
    without recursion, so no document can exhaust the stack here)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise ValueError("strings may not contain NUL characters or unpaired surrogates")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def json_loads_strict(text: str | bytes) -> Any:
    """json.loads for untrusted input: ValueError (with a reason) for NaN, Infinity, numbers out of a
    float's range (1e400), nesting deeper than MAX_JSON_DEPTH, NUL characters and unpaired surrogates."""
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    _check_json(value)
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with json_loads_strict's rules: a refused body answers 400 (parse_error)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            return json_loads_strict(codecs.getreader(encoding)(stream).read())
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors too
            raise exceptions.ParseError(f"JSON parse error - {exc}"[:300]) from None


class StrictJSONField(serializers.JSONField):
    """serializers.JSONField whose JSON strings (multipart and form fields) are read by json_loads_strict."""

    def to_internal_value(self, data: Any) -> Any:
        if getattr(data, "is_json_string", False):
            try:
                return json_loads_strict(data)
            except ValueError as exc:
                raise serializers.ValidationError(f"Not valid JSON: {exc}"[:300]) from None
        return super().to_internal_value(data)
