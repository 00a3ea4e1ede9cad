"""Per-request facts (IP, user agent) that writes deep in services want for the audit trail."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestMeta:
    ip: str | None
    user_agent: str | None


_meta: ContextVar[RequestMeta | None] = ContextVar("atelier_request_meta", default=None)


def current_request_meta() -> RequestMeta | None:
    return _meta.get()


@contextlib.contextmanager
def request_meta(meta: RequestMeta) -> Iterator[None]:
    token = _meta.set(meta)
    try:
        yield
    finally:
        _meta.reset(token)
