"""Numbers in SVG values: the grammar of one number, and its canonical fixed-point form."""

from __future__ import annotations

NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def fmt_number(x: float, precision: int) -> str:
    """Fixed-point, rounded, trailing zeros and '-0' dropped: 1.500 -> '1.5', -0.001 -> '0'."""
    s = f"{x:.{precision}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "", "-") else s
