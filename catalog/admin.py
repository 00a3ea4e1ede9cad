from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from catalog import selectors
from catalog.models import (
    DesignPattern,
    PromptTemplate,
    PromptTemplateLabel,
    PromptTemplateVersion,
    StyleGuide,
)
from catalog.services import design_pattern_expand
from catalog.style import check_compliance, conditioning_text
from core.admin import BaseAdmin, SoftDeleteAdmin
from core.admin_pages import form_page, report_page

COMPLIANCE_SAMPLE = 2000  # examples checked per guide in one report


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
    readonly_fields = ("conditioning",)
    actions = ["compliance_report", "restore_selected"]

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.style_guide_list(include_deleted=True)

    @admin.display(description="conditioning text (what the model reads)")
    def conditioning(self, obj: StyleGuide) -> str:
        return conditioning_text(obj) if obj.pk else "-"

    @admin.action(description="Check its training examples against the rules")
    def compliance_report(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        sections = []
        for guide in queryset:
            examples = list(
                guide.examples.order_by("created_at").only("id", "prompt", "svg_content")[:COMPLIANCE_SAMPLE]
            )
            failing = []
            for ex in examples:
                result = check_compliance(ex.svg_content, guide.style_rules or {})
                if not result.ok:
                    failing.append((ex.prompt[:60], "; ".join(result.violations)))
            ok = len(examples) - len(failing)
            sections.append(
                {
                    "title": guide.guide_name,
                    "summary": f"{ok} of {len(examples)} example(s) comply"
                    + (f" ({ok / len(examples):.0%})." if examples else ".")
                    + (" No examples are linked to this guide." if not examples else ""),
                    "headers": ["example", "violations"],
                    "rows": failing[:200],
                }
            )
        return report_page(request, self, title="Style guide compliance", sections=sections)

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
    actions = ["expand", "restore_selected"]

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.design_pattern_list(include_deleted=True)

    @admin.action(description="Expand into training examples")
    def expand(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        from training.forms import PatternExpandForm

        if not request.user.has_perm("training.add_trainingexample"):
            self.message_user(request, "You may not create training examples.", messages.ERROR)
            return None
        if queryset.count() != 1:
            self.message_user(request, "Expand one pattern at a time.", messages.WARNING)
            return None
        pattern = queryset.get()
        slots = (pattern.pattern_config or {}).get("slots") or {}
        if not slots:
            self.message_user(request, f"{pattern} has no slots to expand.", messages.ERROR)
            return None
        form = PatternExpandForm(request.POST if request.POST.get("confirm") else None, slots=slots)
        if form.is_bound and form.is_valid():
            try:
                result = design_pattern_expand(
                    pattern=pattern,
                    values=form.chosen(slots),
                    status=form.cleaned_data["status"],
                    created_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                level = messages.SUCCESS if not result["invalid"] else messages.WARNING
                self.message_user(
                    request,
                    f"{pattern}: {result['created']} example(s) created, {result['duplicates']} already present, "
                    f"{len(result['invalid'])} invalid."
                    + (f" First: {result['invalid'][0]}" if result["invalid"] else ""),
                    level,
                )
                return None
        return form_page(
            request,
            self,
            title=f"Expand {pattern}",
            form=form,
            action="expand",
            selected=[str(pattern.pk)],
            submit_label="Create examples",
            intro="Every combination of the chosen values becomes one training example linked to this pattern.",
        )


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
