"""Writes of the catalog."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from catalog.models import PromptTemplate, PromptTemplateLabel, PromptTemplateVersion, StyleGuide


@transaction.atomic
def style_guide_create(*, guide_name: str, style_rules: dict[str, Any] | None = None, **fields: Any) -> StyleGuide:
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
    template = PromptTemplate(name=name, created_by=created_by if getattr(created_by, "pk", None) else None, **fields)
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
