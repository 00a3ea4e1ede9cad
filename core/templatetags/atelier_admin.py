"""Admin template helpers: read-only JSON fields shown as a readable tree (core.admin_json), numbers
formatted for people (core.humanize)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.html import format_html

from core.admin_json import json_html
from core.humanize import count, duration, measure, rate

register = template.Library()
IDENTIFIERS = {"seed", "version", "source_line"}  # numbers that name something: shown as stored


@register.simple_tag
def readonly_contents(field: Any) -> Any:
    """A read-only field's contents (admin.helpers.AdminReadonlyField): JSON model fields as a tree,
    everything else as Django shows it."""
    name = field.field.get("name")
    instance = getattr(field.form, "instance", None)
    if isinstance(name, str) and instance is not None:
        try:
            model_field = instance._meta.get_field(name)
        except FieldDoesNotExist:
            model_field = None
        if isinstance(model_field, models.JSONField):
            return json_html(getattr(instance, name))
        numeric = isinstance(model_field, models.FloatField | models.IntegerField)
        if numeric and not model_field.choices and name not in IDENTIFIERS:
            return _number(name, getattr(instance, name))
    return field.contents()


def _number(name: str, value: Any) -> Any:
    """Counts with separators, durations in s or min, rates whole, measurements to 4 significant
    figures; the full value in a tooltip."""
    if value is None:
        return "–"
    if name.endswith("_seconds") or name.endswith("_ms"):
        shown = duration(value / 1000 if name.endswith("_ms") else value)
    elif name.endswith("_per_second"):
        shown = rate(value)
    elif name == "progress":
        shown = f"{value * 100:.0f}%"
    elif isinstance(value, int):
        shown = count(value)
    else:
        shown = measure(value)
    return format_html('<span title="{}">{}</span>', value, shown)


@register.inclusion_tag("admin/date_hierarchy.html")
def large_table_date_hierarchy(cl: Any) -> dict[str, Any] | None:
    """The changelist's date drill-down; on large tables by index probes (core.admin_dates)."""
    from core.admin_dates import large_table_date_hierarchy as context

    return context(cl)
