"""The one SVG module: every parse, sanitise, validate, normalise and rasterise goes through here.

Plain Python (no Django imports) so slm can use it too.

Typical use:
    clean = clean_svg(untrusted_text)      # raises SvgError with a user-facing message
    png = render_png(clean.svg, size=512)  # raises SvgError on blank output, timeout or caps
"""

from core.svg.clean import CleanSvg, clean_svg
from core.svg.normalise import DEFAULT_PRECISION, content_hash, normalise
from core.svg.parse import MAX_SVG_BYTES, SvgError, parse_svg
from core.svg.render import (
    DEFAULT_RENDER_SIZE,
    DEFAULT_RENDER_TIMEOUT_S,
    PROBE_RENDER_SIZE,
    BlankRenderError,
    check_visible,
    is_blank_png,
    render_png,
)
from core.svg.render_pool import MAX_RENDER_PIXELS, MAX_RENDER_SIDE
from core.svg.sanitise import SanitiseResult, sanitise
from core.svg.validate import MAX_ELEMENTS, MAX_RENDERED_ELEMENTS, ValidationReport, validate_svg

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_RENDER_SIZE",
    "DEFAULT_RENDER_TIMEOUT_S",
    "MAX_ELEMENTS",
    "MAX_RENDERED_ELEMENTS",
    "MAX_RENDER_PIXELS",
    "MAX_RENDER_SIDE",
    "MAX_SVG_BYTES",
    "PROBE_RENDER_SIZE",
    "BlankRenderError",
    "CleanSvg",
    "SanitiseResult",
    "SvgError",
    "ValidationReport",
    "check_visible",
    "clean_svg",
    "content_hash",
    "is_blank_png",
    "normalise",
    "parse_svg",
    "render_png",
    "sanitise",
    "validate_svg",
]
