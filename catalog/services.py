"""Writes of the catalog."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from catalog.models import PromptTemplate, PromptTemplateLabel, PromptTemplateVersion, StyleGuide


@transaction.atomic
def style_guide_create(
    *, guide_name: str, style_rules: dict[str, Any] | None = None, **fields: Any
) -> StyleGuide:
    guide = StyleGuide(guide_name=guide_name, style_rules=style_rules or {}, **fields)
    guide.full_clean()
    guide.save()
    return guide


@transaction.atomic
def prompt_template_version_create(
    *, template: PromptTemplate, content: str, created_by: Any = None, change_note: str = ""
) -> PromptTemplateVersion:
    """Every edit is a new immutable version; `latest` follows it, `production` is moved by hand."""
    # Lock the template row so two concurrent edits cannot take the same number.
    PromptTemplate.all_objects.select_for_update().filter(pk=template.pk).first()
    last = template.versions.aggregate(n=Max("version"))["n"] or 0
    version = PromptTemplateVersion(
        template=template,
        version=last + 1,
        content=content,
        variables=PromptTemplateVersion.extract_variables(content),
        change_note=change_note,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    version.full_clean()
    version.save()
    prompt_template_label_move(template=template, name="latest", version=version, moved_by=created_by)
    if last == 0:
        prompt_template_label_move(template=template, name="production", version=version, moved_by=created_by)
    return version


@transaction.atomic
def prompt_template_create(
    *, name: str, content: str, created_by: Any = None, **fields: Any
) -> PromptTemplate:
    template = PromptTemplate(
        name=name, created_by=created_by if getattr(created_by, "pk", None) else None, **fields
    )
    template.full_clean()
    template.save()
    prompt_template_version_create(template=template, content=content, created_by=created_by)
    return template


@transaction.atomic
def prompt_template_label_move(
    *, template: PromptTemplate, name: str, version: PromptTemplateVersion, moved_by: Any = None
) -> PromptTemplateLabel:
    if version.template_id != template.pk:
        from django.core.exceptions import ValidationError

        raise ValidationError({"version": "That version belongs to another template."})
    label, _ = PromptTemplateLabel.objects.select_for_update().get_or_create(
        template=template, name=name, defaults={"version": version}
    )
    label.version = version
    label.updated_by = moved_by if getattr(moved_by, "pk", None) else None
    label.full_clean()
    label.save()
    return label


PATTERN_EXPANSION_CAP = 2000


def design_pattern_expand(
    *,
    pattern: Any,
    values: dict[str, list[Any]] | None = None,
    status: str = "draft",
    created_by: Any = None,
) -> dict[str, Any]:
    """Fill the pattern's slots with every combination of the chosen values → training examples.

    Each design goes through core.svg; identical designs are skipped (reported), not duplicated.
    """
    import itertools

    from django.core.exceptions import ValidationError

    from core.svg import SvgError, clean_svg
    from training.models import TrainingExample

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
            words = {**filled, **{f"{k}_name": _colour_name(v) for k, v in filled.items()}}
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


_COLOUR_NAMES = {
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


def _colour_name(value: Any) -> str:
    return _COLOUR_NAMES.get(str(value).lower(), str(value))


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@transaction.atomic
def prompt_template_save_content(
    *, template: PromptTemplate, content: str, saved_by: Any = None, change_note: str = ""
) -> PromptTemplateVersion | None:
    """An admin edit: a new version when the content differs from the latest, else nothing."""
    latest = template.versions.order_by("-version").first()
    if latest is not None and latest.content == content:
        return None
    return prompt_template_version_create(
        template=template, content=content, created_by=saved_by, change_note=change_note
    )


@transaction.atomic
def prompt_template_label_rollback(
    *, label: PromptTemplateLabel, moved_by: Any = None
) -> PromptTemplateLabel:
    """Point the label at the version before the one it points at now."""
    from django.core.exceptions import ValidationError

    previous = label.template.versions.filter(version__lt=label.version.version).order_by("-version").first()
    if previous is None:
        raise ValidationError({"version": f"{label} already points at the first version."})
    return prompt_template_label_move(
        template=label.template, name=label.name, version=previous, moved_by=moved_by
    )


def prompt_template_diff(*, a: PromptTemplateVersion, b: PromptTemplateVersion) -> str:
    """An HTML side-by-side diff (difflib escapes the text)."""
    import difflib

    return difflib.HtmlDiff(wrapcolumn=80).make_table(
        a.content.splitlines(), b.content.splitlines(), f"v{a.version}", f"v{b.version}", context=False
    )
