"""Rasterise sanitised SVG to PNG with resvg (resvg-py), with size, pixel, time and memory caps.

Choices, and why:
- resvg-py: pure Rust, renders from a string with no network access; we never pass `resources_dir`
  and the sanitiser removes <image>, so it reads no files either.
- Every render re-sanitises and validates its input (cheap), so nothing unsanitised reaches resvg even
  if a caller passes raw text.
- Size: the caller asks for a square box of `size` px (1..MAX_RENDER_SIDE); resvg fits the drawing inside
  it keeping the aspect ratio. The SVG's own width/height never decide the canvas, so width="100000"
  cannot allocate a huge pixmap. MAX_RENDER_PIXELS bounds the canvas (2048 x 2048, ~16 MB RGBA).
- Time and memory: resvg cannot be interrupted and aborts the process when an allocation fails, so it
  runs in a small pool of long-lived worker processes (core/svg/_render_worker.py) with an address-space
  limit. A render past `timeout_s` gets its worker killed and replaced, and raises SvgError.
- Blank output: an invalid path or a missing font renders as an empty canvas without any error, so every
  render is checked with is_blank_png(). check_visible() answers "would this draw anything?" from a
  small probe render (about 1/60 of the pixels of a 512 px one), rendering full size only when the probe
  is blank, so a detail too small for the probe is not mistaken for an empty design.
"""

from __future__ import annotations

import atexit
import io
import struct

from PIL import Image, UnidentifiedImageError

from core.svg.parse import SvgError, parse_svg
from core.svg.render_pool import MAX_RENDER_PIXELS, MAX_RENDER_SIDE, RenderPool
from core.svg.sanitise import sanitise_tree
from core.svg.serialise import serialise
from core.svg.validate import validate_tree

DEFAULT_RENDER_SIZE = 512
PROBE_RENDER_SIZE = 64  # check_visible's first, cheap render
DEFAULT_RENDER_TIMEOUT_S = 10.0
RENDER_NICENESS = 10  # of the full-size render processes (os.nice)
# resvg maps generic families to Times/Arial by default; point them at fonts a Debian box has.
RENDER_FONTS: dict[str, str] = {
    "default": "DejaVu Sans",
    "serif": "DejaVu Serif",
    "sans_serif": "DejaVu Sans",
    "monospace": "DejaVu Sans Mono",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BlankRenderError(SvgError):
    """The SVG rendered, but nothing visible was drawn."""


# Full-size renders run at a lower CPU priority; check_visible's probes are small and a request waits on
# each, so they have a process of their own at normal priority and never queue behind full-size ones.
_pool = RenderPool(niceness=RENDER_NICENESS)
_probe_pool = RenderPool(max_workers=1)
atexit.register(_pool.close)
atexit.register(_probe_pool.close)


def _render_in_worker(
    svg: str,
    width: int,
    height: int,
    *,
    background: str | None = None,
    skip_fonts: bool = False,
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S,
    pool: RenderPool | None = None,
) -> bytes:
    """Render already-sanitised SVG text in a worker. Raises SvgError on resvg errors, crash or timeout."""
    request = {
        "svg": svg,
        "width": width,
        "height": height,
        "background": background,
        "skip_fonts": skip_fonts,
        "fonts": RENDER_FONTS,
    }
    status, payload = (pool or _pool).render(request, timeout_s)
    if status != 0:
        raise SvgError(f"The SVG could not be rendered: {payload.decode('utf-8', 'replace')[:300]}")
    return payload


def _png_size(png: bytes) -> tuple[int, int]:
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE):
        raise SvgError("Not a PNG image.")
    return struct.unpack(">II", png[16:24])


def is_blank_png(png_bytes: bytes) -> bool:
    """True if the image carries no design: fully transparent, or every pixel the same colour."""
    width, height = _png_size(png_bytes)
    if width * height > MAX_RENDER_PIXELS:
        raise SvgError("PNG is too large to check.")
    try:
        with Image.open(io.BytesIO(png_bytes)) as im:
            rgba = im.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise SvgError("Not a valid PNG image.") from exc
    extrema = rgba.getextrema()
    if extrema[3][1] == 0:
        return True
    return all(lo == hi for lo, hi in extrema)


def render_png(
    svg_text: str | bytes,
    size: int = DEFAULT_RENDER_SIZE,
    *,
    background: str | None = None,
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S,
    check_blank: bool = True,
    render_pool: RenderPool | None = None,
) -> bytes:
    """Render SVG to PNG fitting a `size` x `size` box (aspect ratio kept; transparent unless `background`).

    The input is sanitised and validated again here, so raw text is safe too. Raises SvgError for bad
    input, a size over the caps, a render error, a timeout, or a blank result (`check_blank=False`
    skips decoding the PNG for that, when check_visible has already said the SVG draws something).
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_RENDER_SIDE:
        raise SvgError(f"Render size must be between 1 and {MAX_RENDER_SIDE} pixels.")
    if size * size > MAX_RENDER_PIXELS:
        raise SvgError(f"Render size is over the limit of {MAX_RENDER_PIXELS:,} pixels.")
    if background is not None and not _is_simple_colour(background):
        raise SvgError("Background must be a colour like #ffffff.")
    root = parse_svg(svg_text)
    removals = sanitise_tree(root)
    report = validate_tree(root, removals)
    if not report.ok:
        raise SvgError(" ".join(report.errors))
    skip_fonts = not (report.element_counts.get("text") or report.element_counts.get("tspan"))
    png = _render_in_worker(
        serialise(root),
        size,
        size,
        background=background,
        skip_fonts=skip_fonts,
        timeout_s=timeout_s,
        pool=render_pool,
    )
    width, height = _png_size(png)
    if width > MAX_RENDER_SIDE or height > MAX_RENDER_SIDE:
        raise SvgError("The rendered image is over the size limit.")
    if check_blank and is_blank_png(png):
        raise BlankRenderError("The SVG rendered as a blank image (nothing visible was drawn).")
    return png


def check_visible(
    svg_text: str | bytes,
    size: int = DEFAULT_RENDER_SIZE,
    *,
    probe: int = PROBE_RENDER_SIZE,
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S,
) -> None:
    """Raise SvgError unless the SVG draws something visible at `size` px, as render_png would.

    A `probe` px render that is not blank settles it (anti-aliasing keeps even sub-pixel shapes
    visible); only a blank probe is rendered again at full size before the SVG counts as blank."""
    try:
        render_png(svg_text, size=min(probe, size), timeout_s=timeout_s, render_pool=_probe_pool)
    except BlankRenderError:
        if probe >= size:
            raise
        render_png(svg_text, size=size, timeout_s=timeout_s, render_pool=_probe_pool)


def _is_simple_colour(value: str) -> bool:
    v = value.strip()
    return (
        v.startswith("#") and len(v) in (4, 5, 7, 9) and all(c in "0123456789abcdefABCDEF" for c in v[1:])
    ) or (v.isalpha() and len(v) <= 30)
