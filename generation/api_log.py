"""The API request log: one ApiRequest row per call under /api/, written from one place (the receiver of
core.api's `api_request_done`, connected by generation.apps).

Secrets (passwords, tokens, authorization headers…) are redacted, uploaded files are described but never
stored, and the payload is capped (settings.API_LOG_MAX_PAYLOAD_BYTES, 8 KB by default). What a database
column cannot hold (NaN and infinities in JSON, NUL characters, unpaired surrogates) is spelled out as text,
and a row that still fails to save is saved again without its payload: every call leaves its row.

Rows are written by a writer thread (core.background; API_LOG_WRITE="background", the default), so an
answer does not wait for its log row (about a millisecond of a generation call, measured with
bench/generation_bench.py), and rows that gather under load share one INSERT; "inline" writes each
row before the answer.
"""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from core.background import BackgroundWriter
from core.context import current_request_meta
from core.db import commit_without_flush
from core.models import clean_new_row
from generation.models import ApiRequest

SECRET_WORDS = (
    "password",
    "passwd",
    "token",
    "authorization",
    "secret",
    "api_key",
    "apikey",
    "csrf",
    "session",
)
REDACTED = "[redacted]"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # neither fits a PostgreSQL text or jsonb column

log = logging.getLogger(__name__)


def _text(value: str, limit: int) -> str:
    return _UNSTORABLE.sub("\ufffd", value[:limit])


def _is_secret(key: Any) -> bool:
    k = str(key).lower()
    return any(word in k for word in SECRET_WORDS)


def scrub(value: Any, depth: int = 0) -> Any:
    """JSON-ready copy with secrets redacted and file bodies replaced by a description."""
    if depth > 8:
        return "…"
    if isinstance(value, UploadedFile):
        return {"file": True, "size": value.size, "content_type": (value.content_type or "")[:100]}
    if isinstance(value, dict):
        return {
            _text(str(k), 100): (REDACTED if _is_secret(k) else scrub(v, depth + 1)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v, depth + 1) for v in value[:100]]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # "inf", "nan": JSON columns refuse the numbers
    if isinstance(value, str):
        return _text(value, 2000)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _text(str(value), 200)


def _querydict(qd: Any) -> dict[str, Any]:
    if hasattr(qd, "lists"):
        return {k: (v[0] if len(v) == 1 else v) for k, v in qd.lists()}
    return dict(qd) if isinstance(qd, dict) else {"value": qd}


def request_payload(request: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    query = getattr(request, "query_params", None) or getattr(request, "GET", None)
    if query:
        payload["query"] = scrub(_querydict(query))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            data = request.data  # parsed already when the view read it; cached by DRF
        except Exception:  # noqa: BLE001 - a body the parser refused is logged as such
            payload["body"] = {"unparsed": True}
        else:
            body = _querydict(data) if hasattr(data, "lists") else data
            files = getattr(request, "FILES", None)
            if files:
                body = {**(body if isinstance(body, dict) else {"value": body}), **_querydict(files)}
            payload["body"] = scrub(body)
    text = json.dumps(payload, default=str)
    cap = settings.API_LOG_MAX_PAYLOAD_BYTES
    if len(text.encode("utf-8")) > cap:
        keys = sorted(payload.get("body", {})) if isinstance(payload.get("body"), dict) else []
        payload = {"truncated": True, "size": len(text), "body_keys": keys[:50], "preview": text[: cap // 2]}
    return payload


def _error_detail(response: HttpResponseBase) -> str:
    if response.status_code < 400:
        return ""
    data = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        return json.dumps(
            {"code": err.get("code"), "message": err.get("message"), "fields": err.get("fields")}
        )[:4000]
    return f"HTTP {response.status_code}"


def _row(
    *,
    user: Any,
    endpoint: str,
    method: str,
    request_time: datetime,
    duration_ms: int,
    status_code: int,
    payload: dict[str, Any],
    error_detail: str = "",
    prompt_id: Any = None,
    response_time: datetime | None = None,
    ip_address: str | None = None,
) -> ApiRequest:
    if ip_address is None:
        meta = current_request_meta()  # None in the writer thread: the request's own is passed
        ip_address = meta.ip if meta else None
    row = ApiRequest(
        user=user,
        prompt_id=prompt_id,
        endpoint=_text(endpoint, 300),
        method=_text(method, 10),
        request_time=request_time,
        response_time=response_time or timezone.now(),
        duration_ms=max(0, duration_ms),
        status_code=status_code,
        request_payload=payload,
        error_detail=_text(error_detail, 4000),
        ip_address=ip_address,
    )
    clean_new_row(row, trusted=("user", "prompt"))  # both come from rows the request read or wrote
    return row


@transaction.atomic
def api_request_create(**fields: Any) -> ApiRequest:
    """One call's row (the fields of `_row`); on its own, in a transaction of its own."""
    commit_without_flush()  # the log row of a call may be lost in a database crash, never half-written
    row = _row(**fields)
    row.save()
    return row


def api_requests_store(rows: list[dict[str, Any]]) -> None:
    """Calls' rows, written together (the writer thread's batch). Should one not store, each is written
    on its own; one whose payload would not store is kept without it, one whose prompt is gone without
    the prompt: every call leaves its row."""
    try:
        with transaction.atomic():
            commit_without_flush()
            ApiRequest.objects.bulk_create([_row(**r) for r in rows])
        return
    except Exception:  # noqa: BLE001 - find the row at fault below, one by one
        log.warning("API request log: a batch of %d did not store; writing them one by one", len(rows))
    for r in rows:
        for attempt in _fallbacks(r):
            try:
                api_request_create(**attempt)
                break
            except Exception as exc:  # noqa: BLE001
                log.warning("API request log row not stored as it was: %s", exc, exc_info=True)


def _fallbacks(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r,
        {**r, "payload": {"unlogged": "the payload would not store"}},
        {**r, "payload": {"unlogged": "the payload would not store"}, "prompt_id": None},
    ]


_writer: BackgroundWriter[dict[str, Any]] = BackgroundWriter(api_requests_store, name="atelier-api-log")


def api_log_flush(timeout: float = 10.0) -> bool:
    """Wait until every call logged so far in this process has its row (the background writer)."""
    return _writer.flush(timeout)


def api_request_log(
    sender: Any,
    *,
    request: HttpRequest,
    drf_request: Any,
    response: HttpResponseBase,
    started: datetime,
    duration_ms: int,
    prompt_id: Any,
    **kwargs: Any,
) -> None:
    """core.api.api_request_done's receiver: one ApiRequest row for the call."""
    user = getattr(drf_request, "_user", None)  # never re-run authentication here
    meta = current_request_meta()
    row = {
        "user": user if getattr(user, "is_authenticated", False) else None,
        "endpoint": request.path,
        "method": request.method or "",
        "request_time": started,
        "response_time": timezone.now(),
        "duration_ms": duration_ms,
        "status_code": response.status_code,
        "error_detail": _error_detail(response),
        "prompt_id": prompt_id,
        "ip_address": meta.ip if meta else None,
    }
    try:
        row["payload"] = request_payload(drf_request)
    except Exception as exc:  # noqa: BLE001 - the call still leaves its row, without its payload
        log.warning("API request logged without its payload: %s", exc, exc_info=True)
        row["payload"] = {"unlogged": _text(f"{type(exc).__name__}: {exc}", 300)}
    if settings.API_LOG_WRITE == "background":
        _writer.put(row)  # off the request's path: the answer does not wait for its log row
    else:
        api_requests_store([row])
