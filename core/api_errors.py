"""The API's one JSON error shape: the exception handler every view answers errors through, and the OpenAPI
error responses, each listing exactly the codes (core.errors) its operation may answer with that status.

{"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]}}}

`code` is always a member of an ErrorCode enum. `fields` maps a field name to a list of strings, always:
errors inside a field (an item of a list, a key of an object) are flattened into that field's list, each
prefixed with its path ("0: Not a file.").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.http.request import UnreadablePostError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import AuthErrorCode, CommonErrorCode, ErrorCode

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error answered with one of the ErrorCode enums' codes, at its status, with its message unless
    given another."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        self.status_code = code.status
        super().__init__(message or code.message, code.value)


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


def error_body(code: ErrorCode, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code.value, "message": message, "fields": fields or {}}}


def _leaves(codes: Any) -> Iterable[Any]:
    if isinstance(codes, dict):
        codes = list(codes.values())
    if isinstance(codes, list | tuple):
        return [leaf for c in codes for leaf in _leaves(c)]
    return [codes]


def validation_code(exc: exceptions.ValidationError) -> ErrorCode:
    """An area's 400 code when every message of the error carries it (a service's ValidationError raised with
    code=...), else validation_error."""
    found = {ErrorCode.lookup(c) for c in _leaves(exc.get_codes())}
    code = found.pop() if len(found) == 1 else None
    return code if code is not None and code.status == 400 else CommonErrorCode.VALIDATION_ERROR


def code_for(exc: exceptions.APIException, status: int) -> ErrorCode:
    """The enum member for an exception's code (DRF's own are CommonErrorCode's and AuthErrorCode's); one
    no area declares falls back to the first generic code for its status."""
    code = ErrorCode.lookup(exc.get_codes())
    if code is not None and code.status == status:
        return code
    log.warning("API error code %r (status %s) is in no ErrorCode enum", exc.get_codes(), status)
    generic = [c for area in (CommonErrorCode, AuthErrorCode) for c in area if c.status == status]
    return generic[0] if generic else CommonErrorCode.SERVER_ERROR


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=get_error_detail(exc))  # keeps each message's code
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
        code = CommonErrorCode.SERVER_ERROR
        return Response(error_body(code, "An internal error occurred."), status=code.status)
    if isinstance(exc, exceptions.ValidationError):
        code = validation_code(exc)
        message = (
            "The request has invalid fields." if code == CommonErrorCode.VALIDATION_ERROR else code.message
        )
        response.data = error_body(code, message, error_fields(exc.detail))
    else:
        assert isinstance(exc, exceptions.APIException)  # drf_exception_handler answers nothing else
        response.data = error_body(code_for(exc, response.status_code), str(exc.detail))
    return response


# --- the OpenAPI side: each error response's `code` is an enum of the codes its operation may answer ------

AUTH_ERRORS = tuple(AuthErrorCode)


def error_schema(codes: Iterable[ErrorCode]) -> dict[str, Any]:
    """The error shape as a JSON schema whose `code` may be only these codes."""
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": sorted({c.value for c in codes})},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "required": ["code", "message", "fields"],
            }
        },
        "required": ["error"],
    }


def error_description(codes: Iterable[ErrorCode]) -> str:
    return "\n".join(f"- `{c.value}`: {c.message}" for c in sorted(set(codes), key=lambda c: c.value))


def errors(*codes: ErrorCode) -> dict[int, OpenApiResponse]:
    """An operation's error responses for extend_schema: these codes and authentication's, one response per
    status. (429, and 415 and parse_error for operations with a body, are added by document_common_errors.)"""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, *AUTH_ERRORS):
        by_status.setdefault(code.status, []).append(code)
    return {
        status: OpenApiResponse(response=error_schema(group), description=error_description(group))
        for status, group in sorted(by_status.items())
    }


def _codes_of(response: dict[str, Any]) -> list[ErrorCode]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    values = (
        schema.get("properties", {}).get("error", {}).get("properties", {}).get("code", {}).get("enum", [])
    )
    return [c for c in map(ErrorCode.lookup, values) if c is not None]


def _add_codes(operation: dict[str, Any], *codes: ErrorCode) -> None:
    for code in codes:
        key = str(code.status)
        group = [*_codes_of(operation["responses"].get(key, {})), code]
        operation["responses"][key] = {
            "content": {"application/json": {"schema": error_schema(group)}},
            "description": error_description(group),
        }


def document_common_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS): the codes any call may get whatever its
    view declares, added to each operation's responses: throttled (per-user rates, and per IP for wrong
    tokens, before the view runs), for operations with a body parse_error and unsupported_media_type, and for
    paths with parameters not_found."""
    for route, path in result.get("paths", {}).items():
        if not route.startswith("/api/"):  # /v1/ (the OpenAI protocol) documents its own error shape
            continue
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _add_codes(operation, CommonErrorCode.THROTTLED)
            if "requestBody" in operation:
                _add_codes(operation, CommonErrorCode.PARSE_ERROR, CommonErrorCode.UNSUPPORTED_MEDIA_TYPE)
            if "{" in route:  # an id that is not one (not a UUID) matches no route: not_found
                _add_codes(operation, CommonErrorCode.NOT_FOUND)
            operation["responses"] = dict(sorted(operation["responses"].items()))
    return result
