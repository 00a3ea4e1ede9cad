"""Demo catalog content loaded by `make run`: a few style guides, patterns and templates."""

from __future__ import annotations

from typing import Any

DEMO_STYLE_GUIDES: list[dict[str, Any]] = [
    {
        "guide_name": "Lucide outline",
        "source": "https://lucide.dev (ISC)",
        "category": "icon",
        "description": "24px grid, 2px round strokes, no fills.",
        "style_rules": {
            "palette": ["#000000"],
            "stroke_width": 2,
            "line_cap": "round",
            "line_join": "round",
            "fill_mode": "outline",
            "view_box": "0 0 24 24",
            "grid": 24,
        },
        "is_published": True,
    },
    {
        "guide_name": "Primary flat",
        "source": "Atelier demo",
        "category": "illustration",
        "description": "Flat filled shapes in a bright primary palette on a 64px canvas.",
        "style_rules": {
            "palette": [
                "#e53935",
                "#1e88e5",
                "#43a047",
                "#fdd835",
                "#8e24aa",
                "#fb8c00",
                "#212121",
                "#00acc1",
            ],
            "fill_mode": "any",
            "view_box": "0 0 64 64",
            "grid": 64,
            "max_elements": 12,
        },
        "is_published": True,
    },
    {
        "guide_name": "Muted brand",
        "source": "Atelier demo",
        "category": "brand",
        "description": "Two muted colours, square caps, thin strokes.",
        "style_rules": {
            "palette": ["#455a64", "#b0bec5"],
            "stroke_width": {"min": 1, "max": 2},
            "line_cap": "square",
            "line_join": "miter",
            "fill_mode": "any",
        },
        "is_published": False,
    },
]

DEMO_PATTERNS: list[dict[str, Any]] = [
    {
        "pattern_name": "Badge circle",
        "pattern_type": "badge",
        "description": "A filled circle badge with a ring.",
        "pattern_config": {
            "template": (
                '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
                '<circle cx="32" cy="32" r="{size}" fill="{colour}"/>'
                '<circle cx="32" cy="32" r="30" fill="none" stroke="{colour}" stroke-width="2"/></svg>'
            ),
            "prompt": "a {colour_name} circle badge of size {size}",
            "slots": {"size": [12, 18, 24], "colour": ["#e53935", "#1e88e5", "#43a047"]},
        },
        "is_published": True,
    },
    {
        "pattern_name": "Square tile",
        "pattern_type": "icon",
        "description": "A rounded square tile.",
        "pattern_config": {
            "template": (
                '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
                '<rect x="{offset}" y="{offset}" width="{side}" height="{side}" rx="6" fill="{colour}"/></svg>'
            ),
            "slots": {"offset": [8, 16], "side": [32, 48], "colour": ["#fdd835", "#8e24aa"]},
        },
        "is_published": True,
    },
]

DEMO_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "single-shape",
        "category": "icon",
        "is_public": True,
        "content": "a {{ size }} {{ colour }} {{ shape }} at the {{ position }}",
        "description": "One shape, placed on the 3x3 grid.",
    },
    {
        "name": "two-shapes",
        "category": "illustration",
        "is_public": True,
        "content": "a {{ colour_a }} {{ shape_a }} at the {{ position_a }} and a {{ colour_b }} {{ shape_b }} at the {{ position_b }}",
        "description": "Two shapes in two places.",
    },
    {
        "name": "outlined-icon",
        "category": "icon",
        "is_public": False,
        "content": "an outlined {{ colour }} {{ shape }}",
        "description": "A private draft.",
    },
]
