from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin, SoftDeleteAdmin
from feedback import selectors
from feedback.models import Feedback, Promotion


@admin.register(Feedback)
class FeedbackAdmin(SoftDeleteAdmin):
    list_display = ("output", "user", "rating", "short_comment", "created_at")
    list_filter = ("rating",)
    search_fields = ("comments", "user__username")
    autocomplete_fields = ("output", "user")
    date_hierarchy = "created_at"
    list_select_related = ("output", "user")

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.feedback_list(include_deleted=True)

    @admin.display(description="comment")
    def short_comment(self, obj: Feedback) -> str:
        return obj.comments[:60]


@admin.register(Promotion)
class PromotionAdmin(ReadOnlyAdmin):
    list_display = ("example", "output", "feedback", "model_version", "promoted_by", "created_at")
    search_fields = ("example__prompt",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.promotion_list()
