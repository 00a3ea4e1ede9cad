from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.safestring import mark_safe

from catalog import selectors
from catalog.models import (
    DesignPattern,
    PromptTemplate,
    PromptTemplateLabel,
    PromptTemplateVersion,
    StyleGuide,
)
from catalog.services import (
    prompt_template_diff,
    prompt_template_label_move,
    prompt_template_label_rollback,
    prompt_template_save_content,
)
from catalog.style import check_compliance, conditioning_text
from core.admin import BaseAdmin, SoftDeleteAdmin
from core.admin_pages import report_page

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
    # training.admin.patterns adds "expand": the training app owns the examples a pattern becomes.
    actions = ["restore_selected"]

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


class PromptTemplateForm(forms.ModelForm):
    content = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Named variables as {{ name }}. Saving changed content creates a new immutable version; "
        "the 'latest' label follows it, 'production' stays until you move it.",
    )
    change_note = forms.CharField(required=False, max_length=500)

    class Meta:
        model = PromptTemplate
        fields = ("name", "description", "category", "is_public", "created_by")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            latest = self.instance.versions.order_by("-version").first()
            if latest is not None:
                self.fields["content"].initial = latest.content


@admin.register(PromptTemplate)
class PromptTemplateAdmin(SoftDeleteAdmin):
    form = PromptTemplateForm
    readonly_fields = ("diff_link",)

    @admin.display(description="versions")
    def diff_link(self, obj: PromptTemplate) -> str:
        if not obj.pk:
            return "-"
        from django.urls import reverse
        from django.utils.html import format_html

        return format_html(
            '<a href="{}">Compare versions</a>', reverse("admin:catalog_prompttemplate_diff", args=[obj.pk])
        )

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

    def save_model(
        self, request: HttpRequest, obj: PromptTemplate, form: forms.ModelForm, change: bool
    ) -> None:
        obj.full_clean()
        obj.save()
        created = prompt_template_save_content(
            template=obj,
            content=form.cleaned_data["content"],
            saved_by=request.user,
            change_note=form.cleaned_data.get("change_note", ""),
        )
        if created is not None:
            self.message_user(request, f"Saved as version {created.version}.", messages.INFO)

    def get_urls(self):
        return [
            path(
                "<uuid:pk>/diff/",
                self.admin_site.admin_view(self.diff_view),
                name="catalog_prompttemplate_diff",
            ),
        ] + super().get_urls()

    def diff_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        template = get_object_or_404(PromptTemplate.all_objects, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        versions = {v.version: v for v in template.versions.all()}
        if not versions:
            raise Http404("This template has no versions.")
        top = max(versions)
        try:
            a = versions[int(request.GET.get("a", top - 1 if top > 1 else top))]
            b = versions[int(request.GET.get("b", top))]
        except (KeyError, ValueError):
            raise Http404("No such version.") from None
        table = prompt_template_diff(a=a, b=b)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{template}: v{a.version} → v{b.version}",
            "table": mark_safe(table),
            "versions": sorted(versions),
            "template": template,
            "a": a.version,
            "b": b.version,
        }
        return TemplateResponse(request, "admin/catalog/prompttemplate/diff.html", context)

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
    """Moving a label is how a template is rolled out or rolled back; every move is audited."""

    list_display = ("template", "name", "version", "updated_by", "updated_at")
    search_fields = ("template__name", "name")
    autocomplete_fields = ("template", "version")
    readonly_fields = ("updated_by",)
    actions = ["rollback"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.prompt_template_label_list()

    def save_model(self, request: HttpRequest, obj: PromptTemplateLabel, form: object, change: bool) -> None:
        try:
            moved = prompt_template_label_move(
                template=obj.template, name=obj.name, version=obj.version, moved_by=request.user
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        obj.pk = moved.pk
        obj._state.adding = False

    @admin.action(description="Roll back to the previous version", permissions=["change"])
    def rollback(self, request: HttpRequest, queryset: QuerySet) -> None:
        for label in queryset:
            try:
                moved = prompt_template_label_rollback(label=label, moved_by=request.user)
                self.message_user(
                    request, f"{moved} now points at v{moved.version.version}.", messages.SUCCESS
                )
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
