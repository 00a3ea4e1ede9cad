from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import BaseAdmin, ReadOnlyAdmin, SoftDeleteAdmin
from core.jobs.models import JOB_FIELDS
from generation import selectors
from generation.models import ApiRequest, Conversation, DesignOutput, InputImage, OutputImage, Prompt


@admin.register(Conversation)
class ConversationAdmin(SoftDeleteAdmin):
    list_display = ("__str__", "user", "status", "total_messages", "updated_at")
    list_filter = ("status",)
    search_fields = ("title", "user__username")
    autocomplete_fields = ("user",)
    readonly_fields = ("total_messages",)
    list_select_related = ("user",)

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.conversation_list(include_deleted=True)


class InputImageInline(admin.TabularInline):
    model = InputImage
    extra = 0
    fields = ("file_type", "width", "height", "file_size", "analysis_metadata")
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(Prompt)
class PromptAdmin(SoftDeleteAdmin):
    list_display = (
        "short_text",
        "user",
        "status",
        "template_version",
        "style_guide",
        "conversation",
        "created_at",
    )
    list_filter = ("status", "style_guide")
    search_fields = ("text_content", "user__username")
    autocomplete_fields = ("user", "template_version", "style_guide", "conversation")
    date_hierarchy = "created_at"
    inlines = [InputImageInline]
    list_select_related = ("user", "template_version__template", "style_guide", "conversation")

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.prompt_list(include_deleted=True)

    @admin.display(description="text", ordering="text_content")
    def short_text(self, obj: Prompt) -> str:
        return obj.text_content[:80]


@admin.register(InputImage)
class InputImageAdmin(ReadOnlyAdmin):
    """Input images arrive through the API, which checks and re-encodes them; never uploaded here."""

    list_display = ("__str__", "prompt", "file_type", "file_size", "uploaded_at")
    list_filter = ("file_type",)
    search_fields = ("prompt__text_content",)
    autocomplete_fields = ("prompt",)
    readonly_fields = ("file_size", "width", "height", "analysis_metadata")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.input_image_list()


class OutputImageInline(admin.TabularInline):
    model = OutputImage
    extra = 0
    fields = ("sequence_order", "file_type", "file_size", "style_attributes")
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(DesignOutput)
class DesignOutputAdmin(BaseAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # designs come from generation jobs

    list_display = (
        "__str__",
        "prompt",
        "status",
        "model_version",
        "processing_time_ms",
        "generated_at",
        "created_at",
    )
    list_filter = ("status", "output_type")
    search_fields = ("prompt__text_content", "error_message")
    autocomplete_fields = ("prompt", "model_version")
    readonly_fields = (*JOB_FIELDS, "generated_at", "design_metadata", "processing_time_ms")
    date_hierarchy = "created_at"
    inlines = [OutputImageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.design_output_list()


@admin.register(OutputImage)
class OutputImageAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "output", "file_type", "file_size", "sequence_order")
    list_filter = ("file_type",)
    search_fields = ("output__prompt__text_content",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.output_image_list()


@admin.register(ApiRequest)
class ApiRequestAdmin(ReadOnlyAdmin):
    list_display = ("request_time", "method", "endpoint", "status_code", "duration_ms", "user", "ip_address")
    list_filter = ("method", "status_code")
    search_fields = ("endpoint", "user__username")
    date_hierarchy = "request_time"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.api_request_list()
