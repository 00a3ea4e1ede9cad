"""The one JSON error shape for the API, from one exception handler.

{"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


def _fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {
            k: _fields(v) if isinstance(v, dict) else [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    return {"non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log it, never leak internals to the client.
        log.exception("unhandled API error", exc_info=exc)
        return Response(
            {"error": {"code": "server_error", "message": "An internal error occurred.", "fields": {}}},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "validation_error",
            "message": "The request has invalid fields.",
            "fields": _fields(exc.detail),
        }
    else:
        detail = getattr(exc, "detail", "")
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {"code": code if isinstance(code, str) else "error", "message": str(detail), "fields": {}}
    response.data = {"error": body}
    return response
