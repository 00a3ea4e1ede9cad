from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.cache import cache_control

from core.admin import BaseAdmin, ReadOnlyAdmin, SoftDeleteAdmin
from core.admin_pages import thumbnail_response
from core.jobs.models import JOB_FIELDS
from generation import selectors
from generation.admin_designs import (
    LARGE,
    THUMB,
    design_image_url,
    design_links,
    design_similar_panels,
    design_slots,
)
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
    """Every design of an output as a rendered PNG, with links to its prompt, request log, model and
    ratings (templates/admin/generation/designoutput/change_form.html)."""

    change_form_template = "admin/generation/designoutput/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # designs come from generation jobs

    list_display = (
        "thumbnail",
        "__str__",
        "prompt",
        "status",
        "model_version",
        "processing_time_ms",
        "created_at",
    )
    list_filter = ("status", "output_type", "model_version")
    search_fields = ("prompt__text_content", "error_message")
    autocomplete_fields = ("prompt", "model_version")
    readonly_fields = ("designs", *JOB_FIELDS, "generated_at", "design_metadata", "processing_time_ms")
    date_hierarchy = "created_at"
    inlines = [OutputImageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.design_output_list()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        output = self.get_object(request, object_id)
        links = design_links(output, request.user) if output is not None else []
        extra = {**(extra_context or {}), "design_links": links}
        if output is not None and request.user.has_perm("training.view_trainingexample"):
            extra["design_similar"] = design_similar_panels(output)
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description="")
    def thumbnail(self, obj: DesignOutput) -> str:
        slots = design_slots(obj)
        if not slots:
            return ""
        return format_html(
            '<img class="design-thumb" src="{}" width="{}" height="{}" loading="lazy" alt="design">',
            design_image_url(slots[0]["shown"]),
            THUMB,
            THUMB,
        )

    @admin.display(description="designs")
    def designs(self, obj: DesignOutput) -> str:
        slots = design_slots(obj)
        if not slots:
            return "No designs stored (yet)." if not obj.is_terminal else "No designs stored."
        return format_html(
            '<div class="design-gallery">{}</div>',
            format_html_join(
                "",
                '<figure><a href="{}"><img class="design-thumb" src="{}" width="{}" height="{}" alt="design #{}">'
                "</a><figcaption>#{} · {}</figcaption></figure>",
                (
                    (
                        design_image_url(s["shown"], large=True),
                        design_image_url(s["shown"], large=True),
                        LARGE,
                        LARGE,
                        s["sequence_order"],
                        s["sequence_order"],
                        ", ".join(s["style"].get("colours", [])[:6]) or "-",
                    )
                    for s in slots
                ),
            ),
        )


@admin.register(OutputImage)
class OutputImageAdmin(ReadOnlyAdmin):
    list_display = ("thumbnail", "__str__", "output", "file_type", "file_size", "sequence_order")
    list_filter = ("file_type",)
    search_fields = ("output__prompt__text_content",)
    readonly_fields = ("preview",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.output_image_list()

    def get_urls(self):
        return [
            path(
                "<uuid:pk>/thumbnail.png",
                self.admin_site.admin_view(self.thumbnail_view),
                name="generation_outputimage_thumbnail",
            ),
        ] + super().get_urls()

    @method_decorator(cache_control(private=True, max_age=3600))
    def thumbnail_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        """A stored PNG as it is; a stored SVG rendered to PNG by core.svg (never sent as markup)."""
        image = get_object_or_404(selectors.output_image_list(), pk=pk)
        if not self.has_view_permission(request, image):
            raise Http404
        with image.file.open("rb") as fh:
            body = fh.read()
        if image.file_type == OutputImage.FileType.PNG and body.startswith(b"\x89PNG"):
            response = HttpResponse(body, content_type="image/png")
            response["X-Content-Type-Options"] = "nosniff"
            return response
        size = LARGE if request.GET.get("size") == "large" else 2 * THUMB
        return thumbnail_response(body.decode("utf-8", "replace"), size=size)

    @admin.display(description="")
    def thumbnail(self, obj: OutputImage) -> str:
        return format_html(
            '<img class="design-thumb" src="{}" width="{}" height="{}" loading="lazy" alt="design">',
            design_image_url(obj),
            THUMB,
            THUMB,
        )

    @admin.display(description="preview")
    def preview(self, obj: OutputImage) -> str:
        if not obj.pk:
            return "-"
        return format_html(
            '<img class="design-thumb" src="{}" width="{}" height="{}" alt="preview">',
            design_image_url(obj, large=True),
            LARGE,
            LARGE,
        )


@admin.register(ApiRequest)
class ApiRequestAdmin(ReadOnlyAdmin):
    list_display = ("request_time", "method", "endpoint", "status_code", "duration_ms", "user", "ip_address")
    list_filter = ("method", "status_code")
    search_fields = ("endpoint", "user__username")
    date_hierarchy = "request_time"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.api_request_list()
