"""What every API view shares: the one JSON error shape (one exception handler, documented once),
permissions by role, per-user throttling, the request-log hook, file downloads with safe headers, and the base of published lists.

{"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]}}}

`fields` maps a field name to a list of strings, always: errors inside a field (an item of a list, a key of
an object) are flattened into that field's list, each prefixed with its path ("0: Not a file.").

Every view: token or session auth, per-user throttling, errors in this shape, and one `api_request_done`
signal per call, which the request log (generation.api_log) turns into a row. Strict JSON parsing is
core.api_json's, token authentication with failures throttled per IP core.api_auth's (DRF's settings import
both, so they stay free of rest_framework.views).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.dispatch import Signal
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import UnreadablePostError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


def _messages(detail: Any, path: str = "") -> list[str]:
    """Every message under `detail` as a flat list of strings, each prefixed with its path inside the field."""
    prefix = f"{path}: " if path else ""
    if isinstance(detail, dict):
        return [m for k, v in detail.items() for m in _messages(v, f"{path}.{k}" if path else str(k))]
    if isinstance(detail, list | tuple):
        if any(isinstance(x, dict | list | tuple) for x in detail):  # a list serializer's per-item errors
            return [m for i, x in enumerate(detail) for m in _messages(x, f"{path}.{i}" if path else str(i))]
        return [f"{prefix}{x}" for x in detail]
    return [f"{prefix}{detail}"]


def error_fields(detail: Any) -> dict[str, list[str]]:
    """A validation error's detail as the error shape's `fields`: {name: [strings]}, never deeper."""
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    return {"non_field_errors": _messages(detail)}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*([str(exc)] if str(exc) else []))
    elif isinstance(exc, SuspiciousOperation | UnreadablePostError):
        # Too many fields, a body over the size limit, a broken upload: the client's request, not our error.
        exc = exceptions.ParseError(f"The request could not be read: {exc}"[:300])

    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log it, never leak internals to the client.
        log.exception("unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "An internal error occurred."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            "validation_error", "The request has invalid fields.", error_fields(exc.detail)
        )
    else:
        detail = getattr(exc, "detail", "")
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(code if isinstance(code, str) else "error", str(detail))
    return response


class HasModelPerm(BasePermission):
    """The Django permissions a view names per method (`required_perms`, e.g. {"POST":
    ("generation.add_prompt",)}), which the roles' groups hold (core.roles). 403 names the roles that may."""

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = tuple(getattr(view, "required_perms", {}).get(request.method, ()))
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.has_perms(needed):
            return True
        from core.roles import roles_holding

        roles = roles_holding(needed)
        self.message = (
            f"This needs the {' or '.join(roles)} role." if roles else "Your account may not do this."
        )
        return False


ERROR = OpenApiResponse(
    response=inline_serializer(
        "Error",
        {
            "error": inline_serializer(
                "ErrorBody",
                {
                    "code": serializers.CharField(),
                    "message": serializers.CharField(),
                    "fields": serializers.DictField(
                        child=serializers.ListField(child=serializers.CharField())
                    ),
                },
            )
        },
    ),
    description="The error shape: a code, a message, and field-level messages (for 400).",
)
READ_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR, 429: ERROR}

# Answers any call may get whatever its view says, documented on every operation by the schema's
# post-processing hook below: 429 (per-user rates, and per-IP for failed tokens, before the view runs)
# and, for operations with a body, 415 (a body in a media type the operation does not parse).
COMMON_ERRORS = {
    "429": "Too many requests (per user, or per IP after failed tokens); Retry-After says how long to wait.",
}
BODY_ERRORS = {"415": "The body's media type is not one this operation reads."}


def document_common_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS): COMMON_ERRORS on every operation,
    BODY_ERRORS on those with a request body, in the one error shape."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            extra = {**COMMON_ERRORS, **(BODY_ERRORS if "requestBody" in operation else {})}
            for code, description in extra.items():
                operation["responses"].setdefault(code, {"content": error, "description": description})
    return result


# Sent once per API call, after DRF has answered it: sender is the view class; arguments request (the
# Django request), drf_request, response, started (datetime), duration_ms, and prompt_id (the prompt the
# call concerned, if any). The request log listens (generation.apps); core knows nothing of it.
api_request_done = Signal()


class UserThrottle(UserRateThrottle):
    """Per user (per IP when anonymous); the rate is read from settings on each request."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


# Mix into every API view (before APIView): announces the call once DRF has answered it. (A comment, not
# a docstring: the schema generator would show a docstring as every view's description.)
class ApiLogMixin:
    log_prompt_id: Any = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        started = timezone.now()
        t0 = time.monotonic()
        response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        try:
            api_request_done.send(
                sender=type(self),
                request=request,
                drf_request=getattr(self, "request", request),
                response=response,
                started=started,
                duration_ms=round((time.monotonic() - t0) * 1000),
                prompt_id=self.log_prompt_id,
            )
        except Exception:  # the log must never break the answer
            log.exception("could not log the API request %s %s", request.method, request.path)
        return response


class ApiMixin(ApiLogMixin):
    throttle_classes = [UserThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        # DRF authenticates tokens here, after the audit middleware ran: name the actor now.
        from auditlog.context import auditlog_value

        ctx = auditlog_value.get(None)
        if ctx is not None and request.user.is_authenticated:
            ctx["actor"] = request.user


# Downloads: the body is a file, errors are JSON whatever the Accept header asked for.
class FileApi(ApiMixin, APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
INLINE_PARAM = OpenApiParameter(
    "disposition", OpenApiTypes.STR, enum=["attachment", "inline"], description="Default: attachment."
)


def file_response(content: bytes, *, content_type: str, filename: str, request: Request) -> HttpResponse:
    """A download with safe headers; inline when the caller asked (?disposition=inline)."""
    inline = request.query_params.get("disposition") == "inline"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SVG_CSP
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def read_file(field: Any) -> bytes:
    """A stored file's bytes; a file missing from storage answers 404 in the error shape."""
    try:
        with field.open("rb") as fh:
            return fh.read()
    except OSError as exc:
        raise exceptions.NotFound() from exc


# A published list: the selector decides what and how it is fetched (a constant number of queries).
# (A comment, not a docstring: drf-spectacular would show a docstring as every subclass's description.)
class ReadOnlyListApi(ApiMixin, generics.ListAPIView):
    filter_backends: list[Any] = []

    def selector(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        return self.selector()


def list_schema(summary: str, serializer: type[serializers.Serializer]) -> Any:
    return extend_schema_view(
        get=extend_schema(summary=summary, responses={200: serializer(many=True), **READ_ERRORS})
    )


@extend_schema(exclude=True)
class ApiNotFound(ApiMixin, APIView):
    """Unknown paths under /api/ answer 404 in the JSON error shape (and are logged)."""

    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def _missing(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound()

    get = post = put = patch = delete = _missing
