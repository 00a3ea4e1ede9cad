"""JSON fields in the admin, readable: an indented, collapsible tree with keys highlighted.

Our own small widget rather than a package: the maintained JSON widgets on PyPI are editors (a 1 MB
JavaScript bundle that takes over the field), they do nothing for the read-only fields that most of ours are
(design metadata, model config, metrics, request payloads), and the one we tried raises on the invalid text
a form re-displays with its error. Floats show 4 significant figures, the full value in a tooltip. This is server-rendered HTML: nested <details> (collapsible without
JavaScript), every key and value escaped, no script.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.humanize import measure

OPEN_DEPTH = 2  # levels shown open; deeper ones start folded
MAX_ITEMS = 200  # per object or list; the rest is summarised


def _scalar(value: Any) -> SafeString:
    if value is None:
        return mark_safe('<span class="json-null">null</span>')
    if isinstance(value, bool):
        return format_html('<span class="json-bool">{}</span>', "true" if value else "false")
    if isinstance(value, float) and math.isfinite(value) and measure(value) != json.dumps(value):
        # 4 significant figures for people; the full value in the tooltip (and in the stored JSON)
        return format_html('<span class="json-num" title="{}">{}</span>', json.dumps(value), measure(value))
    if isinstance(value, int | float):
        return format_html('<span class="json-num">{}</span>', json.dumps(value))
    return format_html('<span class="json-str">{}</span>', json.dumps(str(value), ensure_ascii=False))


def _size(value: dict | list) -> str:
    n = len(value)
    if isinstance(value, dict):
        return f"{{…}} {n} key{'s' if n != 1 else ''}"
    return f"[…] {n} item{'s' if n != 1 else ''}"


def _node(label: SafeString, value: Any, depth: int) -> SafeString:
    if not isinstance(value, dict | list) or not value:
        empty = "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else None
        shown = format_html('<span class="json-empty">{}</span>', empty) if empty else _scalar(value)
        return format_html('<li class="json-leaf">{}{}</li>', label, shown)
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    children = format_html_join(
        "",
        "{}",
        (
            (
                _node(
                    format_html('<span class="json-key">{}</span>: ', k)
                    if isinstance(value, dict)
                    else format_html('<span class="json-index">{}</span>: ', k),
                    v,
                    depth + 1,
                ),
            )
            for k, v in items[:MAX_ITEMS]
        ),
    )
    more = (
        format_html('<li class="json-more">… {} more</li>', len(items) - MAX_ITEMS)
        if len(items) > MAX_ITEMS
        else ""
    )
    return format_html(
        '<li><details{}><summary>{}<span class="json-size">{}</span></summary><ul>{}{}</ul></details></li>',
        mark_safe(" open") if depth < OPEN_DEPTH else "",
        label,
        _size(value),
        children,
        more,
    )


def json_html(value: Any) -> SafeString:
    """A JSON value as a readable, collapsible tree (escaped; safe to put in a page)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return format_html('<pre class="json-raw">{}</pre>', value)
    if not isinstance(value, dict | list):
        return format_html('<div class="json-tree">{}</div>', _scalar(value))
    if not value:
        return format_html('<div class="json-tree"><span class="json-empty">{}</span></div>', _size(value))
    return format_html('<ul class="json-tree">{}</ul>', _node(mark_safe(""), value, 0))


class ReadableJSONWidget(forms.Textarea):
    """An editable JSON field: the text indented in the textarea, and the readable tree below it."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": 12, "class": "vLargeTextField json-text", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, str):
            try:  # re-indent what the form field dumped on one line; invalid text is shown as typed
                return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
            except ValueError:
                return value
        return super().format_value(value)

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> str:
        text = super().render(name, value, attrs, renderer)
        if value in (None, ""):
            return text
        return format_html(
            '{}<details class="json-readable"><summary>Readable view</summary>{}</details>',
            text,
            json_html(value),
        )
