from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.schemas import PATTERN_CONFIG_SCHEMA, STYLE_RULES_SCHEMA, validate_json
from core.models import BaseModel, SoftDeleteModel

TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class StyleGuideCategory(models.TextChoices):
    ICON = "icon", "Icon set"
    ILLUSTRATION = "illustration", "Illustration"
    BRAND = "brand", "Brand"
    UI = "ui", "User interface"
    OTHER = "other", "Other"


class StyleGuide(SoftDeleteModel):
    Category = StyleGuideCategory
    guide_name = models.CharField(max_length=200)
    source = models.CharField(
        max_length=500, blank=True, help_text="Where the guide comes from (URL or team)."
    )
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.OTHER)
    description = models.TextField(blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    style_rules = models.JSONField(
        default=dict, blank=True, help_text="See catalog/schemas.py: STYLE_RULES_SCHEMA."
    )
    is_published = models.BooleanField(default=False, help_text="Published guides are listed in the API.")

    class Meta(SoftDeleteModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["guide_name"],
                condition=Q(deleted_at__isnull=True),
                name="styleguide_unique_live_name",
            ),
            models.CheckConstraint(
                condition=Q(category__in=StyleGuideCategory.values),
                name="styleguide_category_valid",
            ),
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [models.Index(fields=["is_published"]), models.Index(fields=["category", "is_published"])]

    def __str__(self) -> str:
        return self.guide_name

    def clean(self) -> None:
        validate_json(self.style_rules, STYLE_RULES_SCHEMA, "style_rules")
        sw = (self.style_rules or {}).get("stroke_width")
        if isinstance(sw, dict) and sw["min"] > sw["max"]:
            raise ValidationError({"style_rules": "stroke_width: min must not exceed max."})


class DesignPatternType(models.TextChoices):
    ICON = "icon", "Icon"
    BADGE = "badge", "Badge"
    LAYOUT = "layout", "Layout"
    ILLUSTRATION = "illustration", "Illustration"
    OTHER = "other", "Other"


class DesignPattern(SoftDeleteModel):
    PatternType = DesignPatternType
    pattern_name = models.CharField(max_length=200)
    pattern_type = models.CharField(max_length=32, choices=PatternType.choices, default=PatternType.OTHER)
    description = models.TextField(blank=True)
    pattern_config = models.JSONField(
        default=dict, blank=True, help_text="A parametrised SVG with {slot} names; see PATTERN_CONFIG_SCHEMA."
    )
    style_guide = models.ForeignKey(
        StyleGuide, null=True, blank=True, on_delete=models.SET_NULL, related_name="patterns"
    )
    is_published = models.BooleanField(default=False)

    class Meta(SoftDeleteModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["pattern_name"], condition=Q(deleted_at__isnull=True), name="pattern_unique_live_name"
            ),
            models.CheckConstraint(
                condition=Q(pattern_type__in=DesignPatternType.values),
                name="pattern_type_valid",
            ),
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [
            models.Index(fields=["is_published"]),
            models.Index(fields=["pattern_type", "is_published"]),
        ]

    def __str__(self) -> str:
        return self.pattern_name

    def clean(self) -> None:
        if self.pattern_config:
            validate_json(self.pattern_config, PATTERN_CONFIG_SCHEMA, "pattern_config")
            template = self.pattern_config["template"]
            used = set(re.findall(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}", template))
            missing = used - set(self.pattern_config["slots"])
            if missing:
                raise ValidationError(
                    {"pattern_config": f"Template uses slots with no values: {', '.join(sorted(missing))}."}
                )


class PromptTemplateCategory(models.TextChoices):
    ICON = "icon", "Icon"
    LOGO = "logo", "Logo"
    ILLUSTRATION = "illustration", "Illustration"
    PATTERN = "pattern", "Pattern"
    OTHER = "other", "Other"


class PromptTemplate(SoftDeleteModel):
    """A named template; its content lives in immutable PromptTemplateVersion rows."""

    Category = PromptTemplateCategory
    name = models.SlugField(max_length=120)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.OTHER)
    is_public = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(SoftDeleteModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(deleted_at__isnull=True), name="template_unique_live_name"
            ),
            models.CheckConstraint(
                condition=Q(category__in=PromptTemplateCategory.values),
                name="template_category_valid",
            ),
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [models.Index(fields=["category"]), models.Index(fields=["is_public", "category"])]

    def __str__(self) -> str:
        return self.name


class PromptTemplateVersion(BaseModel):
    """Immutable: an edit makes a new version (catalog.services.prompt_template_version_create)."""

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content = models.TextField(
        help_text="Text with named variables, e.g. 'a {{ subject }} icon in {{ colour }}'."
    )
    variables = models.JSONField(default=list, blank=True, editable=False)
    change_note = models.CharField(max_length=500, blank=True)
    usage_count = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(BaseModel.Meta):
        ordering = ["template", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="template_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="template_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.version}"

    @staticmethod
    def extract_variables(content: str) -> list[str]:
        seen: dict[str, None] = {}
        for name in TEMPLATE_VARIABLE.findall(content):
            seen.setdefault(name, None)
        return list(seen)

    def render(self, variables: dict[str, str]) -> str:
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise ValidationError({"variables": f"Missing template variables: {', '.join(missing)}."})
        return TEMPLATE_VARIABLE.sub(lambda m: str(variables[m.group(1)]), self.content)


class PromptTemplateLabel(BaseModel):
    """A movable name (production, latest, …) pointing at one version of a template."""

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="labels")
    name = models.SlugField(max_length=60)
    version = models.ForeignKey(PromptTemplateVersion, on_delete=models.PROTECT, related_name="labels")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(BaseModel.Meta):
        constraints = [models.UniqueConstraint(fields=["template", "name"], name="template_label_unique")]

    def __str__(self) -> str:
        return f"{self.template.name}@{self.name}"
