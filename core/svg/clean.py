"""The one entry point the app uses for untrusted SVG: parse -> sanitise -> normalise -> validate."""

from __future__ import annotations

from dataclasses import dataclass

from core.svg.normalise import DEFAULT_PRECISION, hash_normalised, normalise_tree
from core.svg.parse import SvgError, parse_svg, parse_view_box
from core.svg.sanitise import cap_removals, sanitise_tree
from core.svg.serialise import serialise
from core.svg.validate import ValidationReport, validate_tree


@dataclass(frozen=True)
class CleanSvg:
    svg: str  # sanitised, normalised SVG text: safe to store, serve and render
    content_hash: str  # sha256 hex of `svg`; equal designs have equal hashes
    removals: tuple[str, ...]  # what sanitising removed, for the user
    report: ValidationReport
    view_box: tuple[float, float, float, float]


def clean_svg(text: str | bytes, *, precision: int = DEFAULT_PRECISION) -> CleanSvg:
    """Make untrusted SVG safe and canonical. Raises SvgError (user-facing message) if unacceptable."""
    root = parse_svg(text)
    removals = cap_removals(sanitise_tree(root))
    normalise_tree(root, precision)
    report = validate_tree(root, removals)
    if not report.ok:
        raise SvgError(" ".join(report.errors))
    svg = serialise(root)
    view_box = parse_view_box(root.get("viewBox"))
    if view_box is None:  # normalise_tree never rounds a viewBox into an invalid one; be defensive anyway
        raise SvgError("The viewBox must be four numbers with a positive width and height.")
    return CleanSvg(
        svg=svg, content_hash=hash_normalised(svg), removals=removals, report=report, view_box=view_box
    )
