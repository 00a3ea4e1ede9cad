"""An evaluation's gallery as a model version keeps it: each test design beside its reference, cleaned by
core.svg (local and external versions alike)."""

from __future__ import annotations

from typing import Any

from core.svg import SvgError, clean_svg


def evaluation_gallery(report: Any) -> list[dict[str, Any]]:
    """slm.quality's report gallery as stored on the model version."""
    return [
        {
            "prompt": item.prompt,
            "reference_svg": item.reference_svg,
            "svg": _shown(item.svg),
            "iou": round(item.iou, 4),
            "biou": round(item.biou, 4),
            "degenerate": item.degenerate,
            "stratum": item.stratum,
        }
        for item in report.gallery
    ]


def _shown(svg: str) -> str:
    """A generated design as the gallery keeps it: cleaned by core.svg, or "" if it cannot be."""
    try:
        return clean_svg(svg).svg if svg else ""
    except SvgError:
        return ""
