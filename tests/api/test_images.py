"""Input images: only PNG/JPEG, capped, re-encoded without metadata, analysed; bad files leave nothing."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.models import DesignOutput, InputImage, Prompt
from tests.api.conftest import assert_field_error, png_bytes, run_jobs

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny file whose header claims a huge canvas: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def upload(content: bytes, name: str = "in.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files() -> list:
    root = settings.MEDIA_ROOT / "inputs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_png_is_stored_reencoded_and_analysed(api, model_version, fake_generator):
    response = api.post(
        URL, {"text": "a circle", "images": [upload(png_bytes(colour=(20, 120, 220)))]}, format="multipart"
    )
    assert response.status_code == 202, response.content
    [image] = response.json()["input_images"]
    assert image["file_type"] == "png" and (image["width"], image["height"]) == (32, 32)
    analysis = image["analysis"]
    assert analysis["format"] == "PNG"
    assert analysis["palette"][0] == {"colour": "#1478dc", "share": 1.0}
    assert 0.3 < analysis["mean_luminance"] < 0.5
    row = InputImage.objects.get()
    assert (
        row.file.name.startswith("inputs/")
        and row.file.name.endswith(".png")
        and "in.png" not in row.file.name
    )
    served = api.get(image["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    # The palette conditions the design: as model context and as colours applied to the result.
    run_jobs()
    assert fake_generator.calls[0]["context"] == "palette #1478dc"
    output = DesignOutput.objects.get()
    applied = output.design_metadata["palette_applied"]
    assert applied == {
        "source": "input_images",
        "colours": ["#1478dc"],
        "as_model_context": True,
        "recoloured": True,
    }
    svg = output.images.get(file_type="svg")
    assert svg.style_attributes["style_applied"]["recoloured"] == {"#e53935": "#1478dc"}


def test_png_html_polyglot_sent_as_html_is_stored_as_a_clean_png(api, model_version):
    polyglot = png_bytes() + b"<html><body><script>alert(document.cookie)</script></body></html>"
    response = api.post(
        URL, {"text": "x", "images": [upload(polyglot, "evil.html", "text/html")]}, format="multipart"
    )
    assert response.status_code == 202, response.content
    row = InputImage.objects.get()
    data = row.file.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and b"<script" not in data and b"html" not in data
    assert row.file.name.endswith(".png")
    served = api.get(response.json()["input_images"][0]["url"])
    assert served["Content-Type"] == "image/png" and b"<script" not in served.content


def test_jpeg_metadata_is_stripped(api, model_version):
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    Image.new("RGB", (40, 20), (250, 250, 250)).save(buf, format="JPEG", exif=exif, comment=b"gps here")
    response = api.post(
        URL, {"text": "x", "images": [upload(buf.getvalue(), "a.jpg", "image/jpeg")]}, format="multipart"
    )
    assert response.status_code == 202
    data = InputImage.objects.get().file.read()
    assert b"SecretCameraMaker" not in data and b"gps here" not in data
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    assert response.json()["input_images"][0]["analysis"]["mean_luminance"] > 0.9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (png_declaring(20000, 20000), "pixels"),  # decompression bomb: refused before decoding
        (png_declaring(5000, 4000), "pixels"),  # under Pillow's limit, over ours (16 MP)
        (b"this is not an image at all", "Only PNG and JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "Only PNG and JPEG"),
        (b"", "empty"),
        (png_bytes()[:60], "decoded"),  # truncated
    ],
    ids=["bomb", "over-cap", "text", "svg", "empty", "truncated"],
)
def test_bad_images_are_refused_and_nothing_is_stored(api, model_version, content, message):
    response = api.post(URL, {"text": "x", "images": [upload(content)]}, format="multipart")
    assert_field_error(response, "images", message)
    assert not Prompt.all_objects.exists() and not InputImage.objects.exists()
    assert stored_files() == []


def test_gif_is_refused(api, model_version):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="GIF")
    response = api.post(
        URL, {"text": "x", "images": [upload(buf.getvalue(), "a.gif", "image/gif")]}, format="multipart"
    )
    assert_field_error(response, "images", "Only PNG and JPEG images are accepted.")


def test_a_bad_second_image_stores_nothing(api, model_version):
    response = api.post(
        URL, {"text": "x", "images": [upload(png_bytes()), upload(b"garbage")]}, format="multipart"
    )
    assert_field_error(response, "images", "Only PNG and JPEG images are accepted.")
    assert not Prompt.all_objects.exists() and stored_files() == []


def test_too_many_images(api, model_version):
    response = api.post(
        URL, {"text": "x", "images": [upload(png_bytes()) for _ in range(5)]}, format="multipart"
    )
    assert_field_error(response, "images")


def test_size_cap(api, model_version, settings):
    settings.GENERATION_INPUT_MAX_BYTES = 100
    response = api.post(
        URL, {"text": "x", "images": [upload(png_bytes((64, 64)) + b"\0" * 200)]}, format="multipart"
    )
    assert_field_error(response, "images", "at most")


def test_image_palette_carries_through_a_conversation(api, model_version, fake_generator):
    conv = api.post("/api/v1/conversations/", {}, format="json").json()
    api.post(
        URL,
        {"text": "a", "conversation": conv["id"], "images": [upload(png_bytes(colour=(0, 200, 0)))]},
        format="multipart",
    )
    second = api.post(URL, {"text": "b", "conversation": conv["id"]}, format="json").json()
    run_jobs()
    applied = DesignOutput.objects.get(pk=second["id"]).design_metadata["palette_applied"]
    assert applied["source"] == "conversation" and applied["colours"] == ["#00c800"]
