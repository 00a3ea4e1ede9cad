"""Design patterns expanded into training examples (the training app owns the examples it creates)."""

from __future__ import annotations

import itertools
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import DesignPattern
from core.svg import SvgError, clean_svg
from training.models import TrainingExample

PATTERN_EXPANSION_CAP = 2000
# Words for the demo palettes' colours in generated prompts ("a red circle badge").
COLOUR_WORDS = {
    "#e53935": "red",
    "#1e88e5": "blue",
    "#43a047": "green",
    "#fdd835": "yellow",
    "#8e24aa": "purple",
    "#fb8c00": "orange",
    "#212121": "black",
    "#00acc1": "cyan",
    "#000000": "black",
    "#ffffff": "white",
}


def design_pattern_expand(
    *,
    pattern: DesignPattern,
    values: dict[str, list[Any]] | None = None,
    status: str = "draft",
    created_by: Any = None,
) -> dict[str, Any]:
    """Fill the pattern's slots with every combination of the chosen values → training examples.

    Each design goes through core.svg; identical designs are skipped (reported), not duplicated.
    """
    config = pattern.pattern_config or {}
    if not config.get("template"):
        raise ValidationError({"pattern_config": "This pattern has no SVG template to expand."})
    slots: dict[str, list[Any]] = dict(config["slots"])
    for name, chosen in (values or {}).items():
        if name not in slots:
            raise ValidationError({"values": f"Unknown slot {name!r}; slots are {', '.join(sorted(slots))}."})
        if not chosen:
            raise ValidationError({"values": f"Choose at least one value for {name!r}."})
        slots[name] = list(chosen)
    names = sorted(slots)
    combos = list(itertools.islice(itertools.product(*(slots[n] for n in names)), PATTERN_EXPANSION_CAP + 1))
    if len(combos) > PATTERN_EXPANSION_CAP:
        raise ValidationError(
            {"values": f"More than {PATTERN_EXPANSION_CAP} combinations; choose fewer values."}
        )
    prompt_template = config.get("prompt") or f"{pattern.pattern_name} with " + ", ".join(
        f"{n} {{{n}}}" for n in names
    )
    created, skipped, invalid = 0, 0, []
    with transaction.atomic():
        for combo in combos:
            filled = dict(zip(names, combo, strict=True))
            words = {**filled, **{f"{k}_name": _colour_word(v) for k, v in filled.items()}}
            try:
                clean = clean_svg(config["template"].format_map(words))
                prompt = prompt_template.format_map(_Default(words))
            except (SvgError, KeyError, ValueError, IndexError) as exc:
                invalid.append(f"{filled}: {exc}")
                continue
            if TrainingExample.objects.filter(content_hash=clean.content_hash).exists():
                skipped += 1
                continue
            example = TrainingExample(
                prompt=prompt,
                svg_content=clean.svg,
                content_hash=clean.content_hash,
                source_type=TrainingExample.SourceType.PATTERN,
                design_pattern=pattern,
                style_guide=pattern.style_guide,
                status=status,
                metadata={"slots": filled},
            )
            example.full_clean(exclude=["content_hash"])
            example.save()
            created += 1
    return {"created": created, "duplicates": skipped, "invalid": invalid}


def _colour_word(value: Any) -> str:
    return COLOUR_WORDS.get(str(value).lower(), str(value))


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
