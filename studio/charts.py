"""Small charts as geometry for server-rendered SVG (templates/admin/studio/): numbers in, rectangles out.

Our own markup from numbers only: no script, no library, nothing fetched; every bar is a link."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    part_y: float  # the highlighted part (failures) at the bottom of the bar
    part_height: float
    label: str
    title: str
    href: str


def column_chart(
    points: list[tuple[str, float, float, str, str]], *, width: int = 420, height: int = 120, gap: int = 3
) -> list[Bar]:
    """(label, value, part, title, href) per column, scaled to the largest value; `part` ≤ value is drawn
    over the bottom of its column."""
    if not points:
        return []
    top = max(max(p[1] for p in points), 1.0)
    step = width / len(points)
    bars = []
    for i, (label, value, part, title, href) in enumerate(points):
        h = (height - 14) * value / top
        ph = (height - 14) * min(part, value) / top
        bars.append(
            Bar(
                x=round(i * step + gap / 2, 1),
                y=round(height - 14 - h, 1),
                width=round(max(step - gap, 1), 1),
                height=round(h, 1),
                part_y=round(height - 14 - ph, 1),
                part_height=round(ph, 1),
                label=label,
                title=title,
                href=href,
            )
        )
    return bars


def row_chart(
    points: list[tuple[str, float, str, str]], *, scale: float, width: int = 300, row: int = 22
) -> list[Bar]:
    """(label, value, title, href) per row, as horizontal bars on a fixed scale (ratings: 5)."""
    return [
        Bar(
            x=0,
            y=i * row,
            width=round(width * max(0.0, min(value, scale)) / scale, 1),
            height=row - 6,
            part_y=0,
            part_height=0,
            label=label,
            title=title,
            href=href,
        )
        for i, (label, value, title, href) in enumerate(points)
    ]
