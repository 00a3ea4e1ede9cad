"""The API's error codes: one enum per area, each member with the HTTP status it answers and what it means.

Every API error's `code` is a member of one of them (core.api_errors maps DRF's and Django's own exceptions
onto CommonErrorCode and AuthErrorCode); each operation's OpenAPI responses list exactly the codes it may
answer. The areas' enums live in their apps (catalog.errors, training.errors, generation.errors,
feedback.errors), each a subclass of ErrorCode, so a code is found by value wherever it was declared.

Plain Python, no DRF: services raise Django ValidationErrors with these codes (code=...), and the API
answers such an error with that code when it is the only one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """A code's value is its wire form; `status` the HTTP status it answers with; `message` what it means."""

    status: int
    message: str

    def __new__(cls, value: str, status: int, message: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.message = message
        return member

    @classmethod
    def areas(cls) -> list[type[ErrorCode]]:
        """Every enum of codes declared so far (an app's appears once its module is imported)."""
        found, todo = [], list(cls.__subclasses__())
        while todo:
            area = todo.pop(0)
            found.append(area)
            todo.extend(area.__subclasses__())
        return found

    @classmethod
    def lookup(cls, value: Any) -> ErrorCode | None:
        """The code with this wire value, in any area; None for a value no area declares."""
        if isinstance(value, ErrorCode):
            return value
        for area in cls.areas():
            try:
                return area(value)
            except ValueError:
                continue
        return None


class CommonErrorCode(ErrorCode):
    VALIDATION_ERROR = (
        "validation_error",
        400,
        "A field or parameter is invalid; `fields` names each and says why.",
    )
    PARSE_ERROR = (
        "parse_error",
        400,
        "The body could not be read: malformed JSON, NaN or 1e400, nesting over 32 levels, a broken upload.",
    )
    BAD_REQUEST = (
        "bad_request",
        400,
        "Refused before any view read it (a bad Host header, a suspicious request).",
    )
    NOT_FOUND = ("not_found", 404, "No such path under /api/, or no such page of a list.")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "This path does not take this method.")
    NOT_ACCEPTABLE = ("not_acceptable", 406, "No answer in a media type the Accept header allows.")
    UNSUPPORTED_MEDIA_TYPE = (
        "unsupported_media_type",
        415,
        "The body's media type is not one this operation reads.",
    )
    THROTTLED = (
        "throttled",
        429,
        "Too many requests (per user, or per IP after wrong tokens); Retry-After says how long to wait.",
    )
    SERVER_ERROR = ("server_error", 500, "An internal error (logged); nothing about it is shown.")


class AuthErrorCode(ErrorCode):
    NOT_AUTHENTICATED = ("not_authenticated", 401, "No token or session was sent.")
    AUTHENTICATION_FAILED = (
        "authentication_failed",
        401,
        "The token is wrong or unknown, or its account is inactive.",
    )
    PERMISSION_DENIED = (
        "permission_denied",
        403,
        "Your role may not do this (the message names the role that may), or a session call lacks its CSRF token.",
    )
