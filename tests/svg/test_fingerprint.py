"""Visual fingerprints: the same picture recoloured, moved and re-written has nearly the same vector; other
pictures do not; a picture that draws nothing has none; uploads are read as ink."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.svg import SvgError, render_png
from core.svg.fingerprint import fingerprint_image, fingerprint_svg, phash_distance
from tests.shared_fixtures import MDI_ICONS

MDI = MDI_ICONS


def icon(name: str) -> str:
    return (MDI / f"{name}.svg").read_text()


def copy_of(svg: str) -> str:
    """Recoloured, moved by one unit, numbers written otherwise (a crude version of the benchmark's)."""
    inner = svg.split(">", 1)[1].rsplit("</svg>", 1)[0].replace("<path ", '<path fill="#2e7d32" ')
    return (
        '<svg viewBox="0 0 24 24" xmlns="http://www.w3.org/2000/svg">'
        f'<g transform="translate(1.000 1.000)">{inner}</g></svg>'
    )


def test_a_recoloured_moved_copy_is_near_and_another_icon_is_not():
    original = fingerprint_svg(icon("home"))
    copy = fingerprint_svg(copy_of(icon("home")))
    other = fingerprint_svg(icon("account"))
    assert float(original.vector @ copy.vector) > 0.97
    assert len(original.phash) == 16 and phash_distance(original.phash, original.phash) == 0
    assert float(original.vector @ other.vector) < 0.9
    assert abs(float(original.vector @ original.vector) - 1.0) < 1e-5


def test_nothing_drawn_has_no_fingerprint_and_bad_input_raises():
    with pytest.raises(SvgError):  # nothing to draw: refused before rendering (the service stores no vector)
        fingerprint_svg('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"/>')
    with pytest.raises(SvgError):
        fingerprint_svg("<not svg")
    with pytest.raises(SvgError):
        fingerprint_image(b"GIF89a not a png")


def test_an_uploaded_png_on_white_matches_the_svg():
    png = render_png(icon("home"), size=200, background="#ffffff")
    from_upload = fingerprint_image(png)
    assert float(from_upload.vector @ fingerprint_svg(icon("home")).vector) > 0.95
    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buf, "JPEG", quality=90)
    assert float(fingerprint_image(buf.getvalue()).vector @ from_upload.vector) > 0.95
