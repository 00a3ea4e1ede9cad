from __future__ import annotations

import uuid
from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField

from generation.models import DesignOutput
from generation.serializers import API_STATUS_CHOICES, API_TO_JOB_STATUS


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, compared in UTC: every offset ISO allows (up to ±23:59) reaches the database as
    UTC, which PostgreSQL accepts (it refuses offsets beyond ±15:59); one that leaves the calendar is a 400."""

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("This date-time is out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class GenerationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=API_STATUS_CHOICES, method="filter_status")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    template = django_filters.CharFilter(method="filter_template", help_text="Template id or name.")
    template_version = django_filters.UUIDFilter(field_name="prompt__template_version")
    model_version = django_filters.UUIDFilter(field_name="model_version")

    class Meta:
        model = DesignOutput
        fields = [
            "status",
            "created_after",
            "created_before",
            "template",
            "template_version",
            "model_version",
        ]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status=API_TO_JOB_STATUS.get(value, value))

    def filter_template(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            return queryset.filter(prompt__template_version__template_id=uuid.UUID(value))
        except ValueError:
            return queryset.filter(prompt__template_version__template__name=value)
