"""The one SVG module: every parse, sanitise, validate, normalise and rasterise goes through here.

Plain Python (no Django imports) so training/ml can use it too.
"""

from core.svg.parse import SvgError, parse_svg

__all__ = ["SvgError", "parse_svg"]
