"""Admin template helpers: read-only JSON fields shown as a readable tree (core.admin_json)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from core.admin_json import json_html

register = template.Library()


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
    return field.contents()
