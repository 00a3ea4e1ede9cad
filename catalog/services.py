"""Writes of the catalog: style guides, prompt templates, their versions and labels."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
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
        raise ValidationError({"version": "That version belongs to another template."})
    label, _ = PromptTemplateLabel.objects.select_for_update().get_or_create(
        template=template, name=name, defaults={"version": version}
    )
    label.version = version
    label.updated_by = moved_by if getattr(moved_by, "pk", None) else None
    label.full_clean()
    label.save()
    return label


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
