"""Small admin page helpers: an intermediate form page, a report page, and safe SVG thumbnails."""

from __future__ import annotations

import io
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.svg import SvgError, render_png


def form_page(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    *,
    title: str,
    form: Any,
    action: str = "",
    selected: list[str] | None = None,
    intro: str = "",
    hidden: dict[str, str] | None = None,
    submit_label: str = "Submit",
    items: list[str] | None = None,
) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "form": form,
        "action": action,
        "selected": selected or [],
        "intro": intro,
        "hidden": hidden or {},
        "submit_label": submit_label,
        "items": items or [],
    }
    return TemplateResponse(request, "admin/atelier/form_page.html", context)


def report_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, *, title: str, sections: list[dict[str, Any]]
) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "sections": sections,
    }
    return TemplateResponse(request, "admin/atelier/report_page.html", context)


def _placeholder_png(size: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "#f3f3f3")
    draw = ImageDraw.Draw(img)
    draw.line((0, 0, size, size), fill="#cc3333", width=2)
    draw.line((0, size, size, 0), fill="#cc3333", width=2)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def thumbnail_response(svg: str, *, size: int) -> HttpResponse:
    """A PNG of a stored design (rendered by core.svg with its caps); a crossed box when it cannot render."""
    try:
        png = render_png(svg, size=size, background="#ffffff")
        status = 200
    except SvgError:
        png, status = _placeholder_png(size), 200
    response = HttpResponse(png, content_type="image/png", status=status)
    response["X-Content-Type-Options"] = "nosniff"
    return response
