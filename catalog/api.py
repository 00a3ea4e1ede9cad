"""The catalog's published lists through the API (/api/v1/style-guides/, patterns/, templates/)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers

from catalog.selectors import design_pattern_list, prompt_template_list, style_guide_list
from core.api import ReadOnlyListApi, list_schema


class StyleGuideSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="guide_name")
    category = serializers.CharField()
    description = serializers.CharField()
    source = serializers.CharField()
    style_rules = serializers.JSONField()
    example_count = serializers.IntegerField()


class PatternSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="pattern_name")
    pattern_type = serializers.CharField()
    description = serializers.CharField()
    pattern_config = serializers.JSONField()
    style_guide = serializers.UUIDField(source="style_guide_id", allow_null=True)


class TemplateVersionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField()
    content = serializers.CharField()
    variables = serializers.JSONField()
    change_note = serializers.CharField()
    usage_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class TemplateLabelSerializer(serializers.Serializer):
    name = serializers.CharField()
    version_id = serializers.UUIDField()
    version = serializers.IntegerField(source="version.version")


class TemplateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    latest_version = serializers.IntegerField(allow_null=True)
    labels = TemplateLabelSerializer(many=True)
    versions = TemplateVersionSerializer(many=True)


@list_schema("Published style guides", StyleGuideSerializer)
class StyleGuideListApi(ReadOnlyListApi):
    serializer_class = StyleGuideSerializer

    def selector(self) -> QuerySet:
        return style_guide_list(published_only=True).order_by("guide_name")


@list_schema("Published design patterns", PatternSerializer)
class PatternListApi(ReadOnlyListApi):
    serializer_class = PatternSerializer

    def selector(self) -> QuerySet:
        return design_pattern_list(published_only=True).order_by("pattern_name")


@list_schema("Public prompt templates with their labels and versions", TemplateSerializer)
class TemplateListApi(ReadOnlyListApi):
    serializer_class = TemplateSerializer

    def selector(self) -> QuerySet:
        return prompt_template_list(public_only=True, with_versions=True).order_by("name")
