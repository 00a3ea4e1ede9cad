"""Documented JSON schemas for the catalog's JSON fields, checked in model clean()."""

from __future__ import annotations

from typing import Any

import jsonschema
from django.core.exceptions import ValidationError

HEX_COLOUR = {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}

# style_rules: what a design in this style must look like. Every key is optional.
STYLE_RULES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "palette": {"type": "array", "items": HEX_COLOUR, "minItems": 1, "maxItems": 32, "uniqueItems": True},
        "stroke_width": {
            "description": "A fixed stroke width, or a {min, max} range.",
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 64},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["min", "max"],
                    "properties": {
                        "min": {"type": "number", "minimum": 0},
                        "max": {"type": "number", "minimum": 0},
                    },
                },
            ],
        },
        "line_cap": {"enum": ["butt", "round", "square"]},
        "line_join": {"enum": ["miter", "round", "bevel"]},
        "fill_mode": {"enum": ["fill", "outline", "any"]},
        "view_box": {"type": "string", "pattern": r"^-?\d+(\.\d+)? -?\d+(\.\d+)? \d+(\.\d+)? \d+(\.\d+)?$"},
        "grid": {"type": "integer", "minimum": 1, "maximum": 1024},
        "max_elements": {"type": "integer", "minimum": 1, "maximum": 10000},
        "notes": {"type": "string", "maxLength": 2000},
    },
}

# pattern_config: a parametrised SVG whose {slot} names are filled from `slots` values.
PATTERN_CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["template", "slots"],
    "properties": {
        "template": {"type": "string", "minLength": 10, "maxLength": 200_000},
        "prompt": {"type": "string", "maxLength": 2000},
        "slots": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "items": {"type": ["string", "number"]},
            },
        },
    },
}


def validate_json(value: Any, schema: dict[str, Any], field: str) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        messages = []
        for err in errors[:10]:
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            messages.append(f"{where}: {err.message}")
        raise ValidationError({field: messages})
