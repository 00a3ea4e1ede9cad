"""render_png()/is_blank_png(): benign icons survive sanitising and render the same; caps and failures."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import resvg_py
from PIL import Image
from svg_test_helpers import BENIGN, lucide_icons, pixel_diff, rgba

from core.svg import (
    MAX_RENDER_SIDE,
    BlankRenderError,
    SvgError,
    check_visible,
    clean_svg,
    is_blank_png,
    render_png,
    sanitise,
)
from core.svg.render import _pool, _render_in_worker
from tests.shared_fixtures import LUCIDE_ICONS

SIZE = 96
LUCIDE = lucide_icons(30) if LUCIDE_ICONS.is_dir() else []
HEAD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'


def png_of(color: tuple[int, int, int, int], size: tuple[int, int] = (8, 8), dot: bool = False) -> bytes:
    im = Image.new("RGBA", size, color)
    if dot:
        im.putpixel((3, 3), (0, 0, 0, 255))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def direct(svg: str, size: int = SIZE) -> bytes:
    """The original, rendered straight through resvg (no sanitising, same fit-box semantics)."""
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size))


def test_icon_selection_is_deterministic_and_sized() -> None:
    if not LUCIDE:
        pytest.skip("Lucide icons not available")
    assert 25 <= len(LUCIDE) <= 35
    assert lucide_icons(30) == LUCIDE


@pytest.mark.parametrize("path", LUCIDE, ids=lambda p: p.stem)
def test_lucide_icon_survives_sanitising_and_renders_the_same(path: Path) -> None:
    original = path.read_text()
    result = sanitise(original)
    assert result.removals == ()
    sanitised_png = render_png(result.svg, SIZE)
    assert not is_blank_png(sanitised_png)  # currentColor renders black in resvg
    assert pixel_diff(sanitised_png, direct(original)) == (0, 0.0)
    # The normalised form rounds to 2 decimals: allow a sliver of anti-aliasing difference.
    cleaned = clean_svg(original)
    assert cleaned.removals == () and cleaned.report.ok
    max_d, mean_d = pixel_diff(render_png(cleaned.svg, SIZE), sanitised_png)
    assert mean_d < 0.5 and max_d <= 64, (max_d, mean_d)


@pytest.mark.parametrize("path", BENIGN, ids=lambda p: p.stem)
def test_hand_written_icon_survives_and_renders_the_same(path: Path) -> None:
    original = path.read_text()
    result = sanitise(original)
    assert result.removals == ()
    png = render_png(result.svg, SIZE)
    assert not is_blank_png(png)
    assert pixel_diff(png, direct(original)) == (0, 0.0)
    cleaned = clean_svg(original)
    assert cleaned.removals == () and cleaned.report.warnings == ()
    max_d, mean_d = pixel_diff(render_png(cleaned.svg, SIZE), png)
    assert mean_d < 0.5 and max_d <= 64, (max_d, mean_d)


def test_benign_fixtures_use_the_features_they_are_meant_to_cover() -> None:
    text = "".join(p.read_text() for p in BENIGN)
    for needle in (
        "<linearGradient",
        "<radialGradient",
        "<clipPath",
        "<mask",
        "<symbol",
        "xlink:href",
        "<style",
    ):
        assert needle in text
    assert len(BENIGN) >= 4


def test_render_fits_the_box_and_keeps_aspect_ratio() -> None:
    wide = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 10"><rect width="10" height="10"/></svg>'
    im = rgba(render_png(wide, 64))
    assert im.size == (64, 32)
    assert im.getpixel((1, 1)) == (0, 0, 0, 255) and im.getpixel((62, 30))[3] == 0
    on_white = rgba(render_png(wide, 64, background="#ffffff"))
    assert on_white.getpixel((1, 1)) == (0, 0, 0, 255) and on_white.getpixel((62, 30)) == (255, 255, 255, 255)


def test_full_bleed_single_colour_counts_as_blank() -> None:
    flat = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 10"><rect width="20" height="10"/></svg>'
    with pytest.raises(SvgError, match="blank"):
        render_png(flat, 64)


def test_huge_declared_size_is_clamped_to_the_requested_box() -> None:
    huge = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000" viewBox="0 0 10 10">'
        '<circle cx="5" cy="5" r="4"/></svg>'
    )
    assert rgba(render_png(huge, 128)).size == (128, 128)


@pytest.mark.parametrize("size", [0, -1, MAX_RENDER_SIDE + 1, 100_000, 1.5, True])
def test_render_size_outside_the_caps_is_refused(size: object) -> None:
    with pytest.raises(SvgError, match="size"):
        render_png(HEAD + '<rect width="5" height="5"/></svg>', size)  # type: ignore[arg-type]


def test_maximum_size_renders() -> None:
    png = render_png(HEAD + '<rect width="5" height="5"/></svg>', MAX_RENDER_SIDE)
    assert rgba(png).size == (MAX_RENDER_SIDE, MAX_RENDER_SIDE)


@pytest.mark.parametrize(
    "body",
    [
        '<path d="M0 0 Lx"/>',  # invalid path: resvg draws nothing and reports nothing
        '<rect width="5" height="5" fill="none"/>',
        '<rect width="5" height="5" opacity="0"/>',
        '<circle cx="5" cy="5" r="0"/>',
        '<g transform="scale(0)"><rect width="5" height="5"/></g>',
    ],
)
def test_blank_render_is_an_error(body: str) -> None:
    with pytest.raises(SvgError, match="blank"):
        render_png(HEAD + body + "</svg>", 32)


@pytest.mark.parametrize(
    "body",
    ['<path d="M0 0 Lx"/>', '<rect width="5" height="5" fill="none"/>', '<circle cx="5" cy="5" r="0"/>'],
)
def test_visibility_check_refuses_what_renders_blank(body: str) -> None:
    with pytest.raises(BlankRenderError):
        check_visible(HEAD + body + "</svg>", 512)


def test_visibility_check_passes_a_detail_too_small_for_the_probe() -> None:
    tiny = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10000 10000">'
        '<rect x="5000" y="5000" width="12" height="12" fill="#000"/></svg>'
    )
    with pytest.raises(BlankRenderError):
        render_png(tiny, 64)  # the probe alone would call it blank
    check_visible(tiny, 512)  # the full-size render it falls back to does not
    check_visible(HEAD + '<circle cx="5" cy="5" r="3" fill="#e53935"/></svg>', 512)


def test_is_blank_png() -> None:
    assert is_blank_png(png_of((0, 0, 0, 0)))
    assert is_blank_png(png_of((255, 255, 255, 255)))  # one flat colour carries no design
    assert not is_blank_png(png_of((0, 0, 0, 0), dot=True))
    assert not is_blank_png(png_of((255, 255, 255, 255), dot=True))
    with pytest.raises(SvgError):
        is_blank_png(b"not a png")
    with pytest.raises(SvgError, match="too large"):
        is_blank_png(png_of((0, 0, 0, 0), size=(MAX_RENDER_SIDE + 1, MAX_RENDER_SIDE)))


def test_render_sanitises_its_input() -> None:
    evil = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">'
        '<image xlink:href="file:///etc/hostname" width="10" height="10"/><rect width="5" height="5"/></svg>'
    )
    clean = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5" height="5"/></svg>'
    assert pixel_diff(render_png(evil, 32), render_png(clean, 32)) == (0, 0.0)
    with pytest.raises(SvgError, match="DOCTYPE"):
        render_png('<!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>', 32)


def test_bad_background_is_refused() -> None:
    with pytest.raises(SvgError, match="Background"):
        render_png(HEAD + '<rect width="5" height="5"/></svg>', 32, background="url(x)")


def _heavy_svg(n: int = 3000) -> str:
    circles = "".join(
        f'<circle cx="{i % 100}" cy="{(i * 7) % 100}" r="90" fill-opacity="0.3"/>' for i in range(n)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{circles}</svg>'


def test_render_timeout_stops_the_worker_and_the_next_render_works() -> None:
    start = time.monotonic()
    with pytest.raises(SvgError, match="longer than"):
        render_png(_heavy_svg(), MAX_RENDER_SIDE, timeout_s=0.05)
    assert time.monotonic() - start < 5
    assert not is_blank_png(render_png(HEAD + '<rect width="5" height="5"/></svg>', 32))


def test_worker_crash_is_contained() -> None:
    # Bypasses render_png's caps on purpose: resvg aborts its process on a failed huge allocation.
    tiny = HEAD + '<rect width="5" height="5"/></svg>'
    with pytest.raises(SvgError, match="crashed"):
        _render_in_worker(tiny, 200_000, 200_000)
    assert not is_blank_png(render_png(tiny, 32))


def test_workers_are_reused() -> None:
    tiny = HEAD + '<rect width="5" height="5"/></svg>'
    render_png(tiny, 16)
    pids = {w.proc.pid for w in _pool._idle}
    render_png(tiny, 16)
    assert pids and {w.proc.pid for w in _pool._idle} == pids


def test_concurrent_renders_are_correct() -> None:
    from concurrent.futures import ThreadPoolExecutor

    svgs = [p.read_text() for p in BENIGN]
    with ThreadPoolExecutor(4) as pool:
        pngs = list(pool.map(lambda s: render_png(s, 48), svgs * 2))
    for first, second, svg in zip(pngs[: len(svgs)], pngs[len(svgs) :], svgs, strict=True):
        assert not is_blank_png(first)
        assert pixel_diff(first, second) == (0, 0.0)
        assert pixel_diff(first, direct(sanitise(svg).svg, 48)) == (0, 0.0)
