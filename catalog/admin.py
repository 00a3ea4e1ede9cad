from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog import selectors
from catalog.models import (
    DesignPattern,
    PromptTemplate,
    PromptTemplateLabel,
    PromptTemplateVersion,
    StyleGuide,
)
from core.admin import BaseAdmin, SoftDeleteAdmin


@admin.register(StyleGuide)
class StyleGuideAdmin(SoftDeleteAdmin):
    list_display = (
        "guide_name",
        "category",
        "is_published",
        "source",
        "example_count",
        "collected_at",
        "updated_at",
    )
    list_filter = ("category", "is_published")
    search_fields = ("guide_name", "source", "description")
    date_hierarchy = "created_at"

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.style_guide_list(include_deleted=True)

    @admin.display(description="examples", ordering="example_count")
    def example_count(self, obj: StyleGuide) -> int:
        return obj.example_count


@admin.register(DesignPattern)
class DesignPatternAdmin(SoftDeleteAdmin):
    list_display = ("pattern_name", "pattern_type", "style_guide", "is_published", "updated_at")
    list_filter = ("pattern_type", "is_published")
    search_fields = ("pattern_name", "description")
    autocomplete_fields = ("style_guide",)
    list_select_related = ("style_guide",)

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.design_pattern_list(include_deleted=True)


class PromptTemplateVersionInline(admin.TabularInline):
    model = PromptTemplateVersion
    extra = 0
    fields = ("version", "content", "variables", "usage_count", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PromptTemplate)
class PromptTemplateAdmin(SoftDeleteAdmin):
    list_display = (
        "name",
        "category",
        "is_public",
        "latest_version",
        "total_usage",
        "created_by",
        "updated_at",
    )
    list_filter = ("category", "is_public")
    search_fields = ("name", "description")
    autocomplete_fields = ("created_by",)
    inlines = [PromptTemplateVersionInline]

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.prompt_template_list(include_deleted=True)

    @admin.display(description="latest version", ordering="latest_version")
    def latest_version(self, obj: PromptTemplate) -> int | None:
        return obj.latest_version

    @admin.display(description="uses", ordering="total_usage")
    def total_usage(self, obj: PromptTemplate) -> int:
        return obj.total_usage


@admin.register(PromptTemplateVersion)
class PromptTemplateVersionAdmin(BaseAdmin):
    """Versions are immutable: added here, never changed."""

    list_display = ("template", "version", "short_content", "usage_count", "created_by", "created_at")
    list_filter = ("template__category",)
    search_fields = ("template__name", "content")
    autocomplete_fields = ("template",)
    readonly_fields = ("version", "variables", "usage_count", "created_by")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.prompt_template_version_list()

    def get_readonly_fields(
        self, request: HttpRequest, obj: PromptTemplateVersion | None = None
    ) -> tuple[str, ...]:
        base = super().get_readonly_fields(request, obj)
        return (*base, "template", "content", "change_note") if obj else base

    def save_model(
        self, request: HttpRequest, obj: PromptTemplateVersion, form: object, change: bool
    ) -> None:
        from catalog.services import prompt_template_version_create

        if change:
            return  # immutable; the form shows read-only fields only
        created = prompt_template_version_create(
            template=obj.template, content=obj.content, change_note=obj.change_note, created_by=request.user
        )
        obj.pk, obj.version = created.pk, created.version
        obj._state.adding = False

    @admin.display(description="content")
    def short_content(self, obj: PromptTemplateVersion) -> str:
        return obj.content[:80]


@admin.register(PromptTemplateLabel)
class PromptTemplateLabelAdmin(BaseAdmin):
    list_display = ("template", "name", "version", "updated_by", "updated_at")
    search_fields = ("template__name", "name")
    autocomplete_fields = ("template", "version")
    readonly_fields = ("updated_by",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.prompt_template_label_list()
