"""The OpenAI protocol's error shape for /v1/: {"error": {"message", "type", "param", "code"}}.

Errors are raised and handled as everywhere else in the API (core.api_errors, codes from the ErrorCode
enums); only the body's shape changes, so OpenAI clients (the `openai` package, LangChain…) read them.
`code` is our code, `param` the first invalid field, `type` OpenAI's word for the status.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from core.api_errors import AUTH_ERRORS, error_description
from core.errors import CommonErrorCode, ErrorCode

TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    406: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_type(status: int) -> str:
    return TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_request_error")


def openai_error_body(body: Any, status: int) -> dict[str, Any]:
    """Our error body ({"error": {"code", "message", "fields"}}) in OpenAI's shape; field messages are
    appended to the message so a client that shows only the message still says what to fix."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    fields = error.get("fields") or {}
    message = str(error.get("message") or "Error.")
    if fields:
        message += " " + " ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in fields.items())
    return {
        "error": {
            "message": message,
            "type": openai_error_type(status),
            "param": next(iter(fields), None),
            "code": error.get("code") or CommonErrorCode.SERVER_ERROR.value,
        }
    }


def openai_error_schema(codes: list[ErrorCode]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True},
                    "code": {"type": "string", "enum": sorted({c.value for c in codes})},
                },
                "required": ["message", "type", "param", "code"],
            }
        },
        "required": ["error"],
    }


# Answered by any call whatever its view declares (document_common_errors adds these for /api/ paths).
COMMON = (CommonErrorCode.THROTTLED,)
WITH_BODY = (CommonErrorCode.PARSE_ERROR, CommonErrorCode.UNSUPPORTED_MEDIA_TYPE)


def openai_errors(*codes: ErrorCode, body: bool = False) -> dict[int, OpenApiResponse]:
    """An /v1/ operation's error responses, in OpenAI's shape, one per status."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, *AUTH_ERRORS, *COMMON, *(WITH_BODY if body else ())):
        by_status.setdefault(code.status, []).append(code)
    return {
        status: OpenApiResponse(response=openai_error_schema(group), description=error_description(group))
        for status, group in sorted(by_status.items())
    }
