from pathlib import Path
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import defaults

from core.api_errors import error_body
from core.errors import AuthErrorCode, CommonErrorCode, ErrorCode


def home(request: HttpRequest) -> HttpResponse:
    return redirect("admin:index")


FAVICON = (Path(__file__).parent / "static" / "core" / "favicon.svg").read_bytes()


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on every site whatever the page links (an SVG: every current
    browser takes one there)."""
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# Django's own error views, answering in the API's error shape for paths under /api/ (config.urls).


def _error(code: ErrorCode, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=code.status)


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Any) -> HttpResponse:
    if _api(request):
        return _error(CommonErrorCode.BAD_REQUEST, "The request could not be read.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Any) -> HttpResponse:
    if _api(request):
        return _error(AuthErrorCode.PERMISSION_DENIED, "You may not do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Any) -> HttpResponse:
    if _api(request):
        return _error(CommonErrorCode.NOT_FOUND, "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return _error(CommonErrorCode.SERVER_ERROR, "An internal error occurred.")
    return defaults.server_error(request)
