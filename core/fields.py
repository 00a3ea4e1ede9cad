"""Model fields with the defaults we want in every form built from them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models


class HttpsURLField(models.URLField):
    """A URL whose form field assumes `https://` for a URL typed without a scheme (Django 6's default;
    Django 5.2 warns on every form field built without saying). Stored and migrated as a plain URLField."""

    def formfield(self, **kwargs: Any) -> forms.Field | None:
        return super().formfield(**{"assume_scheme": "https", **kwargs})

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.URLField", args, kwargs
