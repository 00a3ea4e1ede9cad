"""Atelier's admin site: Django's, with the dashboard as its home page and the playground beside it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path


class AtelierAdminSite(admin.AdminSite):
    index_template = "admin/studio/index.html"

    def admin_view(
        self, view: Callable[..., HttpResponse], cacheable: bool = False
    ) -> Callable[..., HttpResponse]:
        inner = super().admin_view(view, cacheable)
        if view != self.index:
            return inner

        @wraps(view)
        def index_or_403(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # Signed in without admin access (an API consumer): 403, not a login page that hides why.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return index_or_403

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from studio.dashboard import dashboard_context

        context = {"dashboard": dashboard_context(user=request.user), **(extra_context or {})}
        return super().index(request, context)

    def get_urls(self) -> list[URLPattern]:
        from studio import views

        return [
            path("dashboard/jobs.json", views.dashboard_jobs, name="dashboard_jobs"),
            path("playground/", views.playground, name="playground"),
            path("playground/status.json", views.playground_status, name="playground_status"),
            path("playground/<uuid:output_id>/rate/", views.playground_rate, name="playground_rate"),
            path(
                "playground/<uuid:output_id>/<int:seq>/promote/",
                views.playground_promote,
                name="playground_promote",
            ),
            *super().get_urls(),
        ]
