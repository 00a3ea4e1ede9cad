"""What every API view shares: permissions by role, per-user throttling, the request-log hook, file downloads
with safe headers, and the base of published lists.

Every view: token or session auth, per-user throttling, errors in the one JSON error shape with a code from
the ErrorCode enums (core.api_errors, core.errors), and one `api_request_done` signal per call, which the
request log (generation.api_log) turns into a row. Strict JSON parsing is core.api_json's, token
authentication with failures throttled per IP core.api_auth's (DRF's settings import both, so they stay free
of rest_framework.views).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db.models import QuerySet
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from core.api_errors import ApiError, errors
from core.errors import CommonErrorCode, ErrorCode

log = logging.getLogger(__name__)


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


def read_file(field: Any, *, missing: ErrorCode) -> bytes:
    """A stored file's bytes; a file missing from storage answers `missing` (a 404 code of its area)."""
    try:
        with field.open("rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ApiError(missing) from exc


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
        get=extend_schema(
            summary=summary, responses={200: serializer(many=True), **errors(CommonErrorCode.NOT_FOUND)}
        )
    )


@extend_schema(exclude=True)
class ApiNotFound(ApiMixin, APIView):
    """Unknown paths under /api/ answer 404 in the JSON error shape (and are logged)."""

    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def _missing(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ApiError(CommonErrorCode.NOT_FOUND)

    get = post = put = patch = delete = _missing
