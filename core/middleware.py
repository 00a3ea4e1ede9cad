from __future__ import annotations

from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest, HttpResponse

from core.context import RequestMeta, request_meta


class AuditContextMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware (actor, IP) plus the user agent, for admin and API alike."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = RequestMeta(
            ip=self._get_remote_addr(request),
            user_agent=(request.headers.get("User-Agent") or "")[:512] or None,
        )
        with request_meta(meta):
            return super().__call__(request)
