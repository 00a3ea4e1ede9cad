"""Logging filters: each event logged once."""

from __future__ import annotations

import logging


class SkipNotFound(logging.Filter):
    """runserver's request line for a 404: `django.request` already logs it ("Not Found: /path")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 404
