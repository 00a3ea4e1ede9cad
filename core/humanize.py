"""Numbers for people, on admin pages: counts with separators, measurements to 4 significant figures,
durations in s or min, rates as whole numbers. The stored values (and every JSON answer) keep full
precision; the pages that show these put the full value in a tooltip."""

from __future__ import annotations

import math
from typing import Any

DASH = "–"


def count(value: Any) -> str:
    """1234567 -> '1,234,567'."""
    return f"{int(value):,}" if isinstance(value, int | float) and math.isfinite(value) else DASH


def measure(value: Any, digits: int = 4) -> str:
    """A loss or metric to `digits` significant figures: 0.123456 -> '0.1235', 1234.5678 -> '1,235'."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH if not isinstance(value, int | float) else str(value)
    if isinstance(value, int) or value == 0:
        return f"{int(value):,}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{round(value):,}"
    text = f"{value:.{max(0, digits - 1 - magnitude)}f}"
    if abs(value) < 10**-(digits):  # very small: scientific, not a row of zeros
        text = f"{value:.{digits - 1}e}"
    return text


def duration(seconds: Any) -> str:
    """42.3 -> '42 s', 754 -> '12.6 min', 10000 -> '2.8 h'."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return DASH
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def rate(value: Any) -> str:
    """Tokens per second: a whole number with separators."""
    return f"{round(value):,}" if isinstance(value, int | float) and math.isfinite(value) else DASH
