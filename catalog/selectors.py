"""Reads of the catalog, shared by the admin and the API."""

from __future__ import annotations

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from catalog.models import (
    DesignPattern,
    PromptTemplate,
    PromptTemplateLabel,
    PromptTemplateVersion,
    StyleGuide,
)


def style_guide_list(*, include_deleted: bool = False, published_only: bool = False) -> QuerySet[StyleGuide]:
    qs = StyleGuide.all_objects.all() if include_deleted else StyleGuide.objects.all()
    if published_only:
        qs = qs.filter(is_published=True)
    return qs.annotate(example_count=Count("examples", filter=Q(examples__deleted_at__isnull=True)))


def design_pattern_list(
    *, include_deleted: bool = False, published_only: bool = False
) -> QuerySet[DesignPattern]:
    qs = DesignPattern.all_objects.all() if include_deleted else DesignPattern.objects.all()
    if published_only:
        qs = qs.filter(is_published=True)
    return qs.select_related("style_guide")


def prompt_template_list(
    *, include_deleted: bool = False, public_only: bool = False, with_versions: bool = False
) -> QuerySet[PromptTemplate]:
    qs = PromptTemplate.all_objects.all() if include_deleted else PromptTemplate.objects.all()
    if public_only:
        qs = qs.filter(is_public=True)
    if with_versions:  # the API's template list: every version and label in two queries
        qs = qs.prefetch_related(
            Prefetch("versions", queryset=PromptTemplateVersion.objects.order_by("-version")),
            Prefetch(
                "labels", queryset=PromptTemplateLabel.objects.select_related("version").order_by("name")
            ),
        )
    return qs.select_related("created_by").annotate(
        latest_version=Max("versions__version"), total_usage=Count("versions__prompts", distinct=True)
    )


def prompt_template_version_list() -> QuerySet[PromptTemplateVersion]:
    return PromptTemplateVersion.objects.select_related("template", "created_by")


def prompt_template_label_list() -> QuerySet[PromptTemplateLabel]:
    return PromptTemplateLabel.objects.select_related("template", "version__template", "updated_by")
