"""Who may open the studio's pages. Anonymous visitors are sent to the login page; signed-in users without
the right get 403 (never a login page that hides why)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect


def may_use_playground(user: Any) -> bool:
    """Staff who may request designs (Curators and ML staff hold generation.add_prompt; superusers)."""
    return bool(user.is_active and user.is_staff and user.has_perm("generation.add_prompt"))


def may_watch_jobs(user: Any) -> bool:
    return bool(
        user.is_active
        and user.is_staff
        and (user.has_perm("training.view_trainingrun") or user.has_perm("training.view_importbatch"))
    )


def staff_page(
    allowed: Callable[[Any], bool],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not allowed(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return csrf_protect(never_cache(inner))

    return decorate
