"""LOGGING: one plain line per event, each event printed once."""

from __future__ import annotations

from typing import Any


def logging_settings(*, level: str) -> dict[str, Any]:
    """The LOGGING dict, the root logger at `level` (LOG_LEVEL, read by config/settings.py)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "filters": {"skip_404": {"()": "core.log_filters.SkipNotFound"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "plain"},
            "server": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["skip_404"]},
        },
        "root": {"handlers": ["console"], "level": level},
        # Each event once: Django's loggers print through the root's handler only (Django's own console
        # handler printed every "Not Found" a second time), and runserver's request line is not repeated
        # for a 404 that django.request logs.
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        },
    }
