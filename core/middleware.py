from __future__ import annotations

from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest, HttpResponse

from core.context import RequestMeta, request_meta
from core.net import client_ip


class AuditContextMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware (actor, IP) plus the user agent, for admin and API alike. The IP is
    core.net.client_ip's (X-Forwarded-For only through trusted proxies), never the header as sent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        return client_ip(request)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = RequestMeta(
            ip=client_ip(request),
            user_agent=(request.headers.get("User-Agent") or "")[:512] or None,
        )
        with request_meta(meta):
            return super().__call__(request)
