"""Input images: PNG and JPEG only, pixel- and size-capped, re-encoded without metadata, analysed.

The client's file name and content type are ignored: Pillow (restricted to PNG and JPEG) decides what
the file is, and what is stored is a fresh encoding of the decoded pixels, so trailing data (a PNG/HTML
polyglot, say), EXIF, comments and colour profiles never reach storage.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

FORMATS = ("PNG", "JPEG")
MAX_IMAGES = 4
PALETTE_COLOURS = 5


@dataclass(frozen=True)
class ProcessedImage:
    content: bytes
    file_type: str  # "png" or "jpeg": what the server stores and serves
    width: int
    height: int
    analysis: dict[str, Any] = field(default_factory=dict)


def _refuse(message: str) -> ValidationError:
    return ValidationError({"images": [message]})


def _open(data: bytes) -> Image.Image:
    """Open and decode, refusing other formats, oversized canvases and decompression bombs."""
    # Our cap sits far below Pillow's bomb limit, and is checked on the header before any decoding.
    try:
        im = Image.open(io.BytesIO(data), formats=list(FORMATS))
        width, height = im.size
        if width < 1 or height < 1 or width * height > settings.GENERATION_INPUT_MAX_PIXELS:
            raise _refuse(
                f"Images may have at most {settings.GENERATION_INPUT_MAX_PIXELS:,} pixels; this one is {width}x{height}."
            )
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(f"Images may have at most {settings.GENERATION_INPUT_MAX_PIXELS:,} pixels.") from exc
    except UnidentifiedImageError as exc:
        raise _refuse("Only PNG and JPEG images are accepted.") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise _refuse("The image could not be decoded.") from exc
    return im


def _flatten(im: Image.Image) -> Image.Image:
    """RGB on white, for analysis."""
    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def analyse(im: Image.Image) -> dict[str, Any]:
    """Dominant palette (median-cut to 5 colours, by share), mean luminance (0..1)."""
    small = im.copy()
    small.thumbnail((128, 128))
    rgb = _flatten(small)
    quantised = rgb.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    raw_palette = quantised.getpalette() or []
    counts = sorted(quantised.getcolors() or [], reverse=True)
    total = sum(c for c, _ in counts) or 1
    palette = []
    for count, index in counts:
        r, g, b = raw_palette[index * 3 : index * 3 + 3]
        palette.append({"colour": f"#{r:02x}{g:02x}{b:02x}", "share": round(count / total, 3)})
    luminance = ImageStat.Stat(rgb.convert("L")).mean[0] / 255.0
    return {"palette": palette, "mean_luminance": round(luminance, 4)}


def _encode(im: Image.Image, fmt: str) -> bytes:
    """Fresh encoding of the pixels alone: no EXIF, comments, text chunks or colour profile."""
    if fmt == "JPEG":
        im = im.convert("RGB")
    elif im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA")  # palette images: transparency becomes alpha before info is dropped
    else:
        im = im.copy()
    im.info = {}
    out = io.BytesIO()
    if fmt == "JPEG":
        im.save(out, format="JPEG", quality=90, optimize=True)
    else:
        im.save(out, format="PNG", optimize=True)
    return out.getvalue()


def input_image_process(fp: IO[bytes]) -> ProcessedImage:
    """Read an upload (capped), decode it safely, re-encode it and analyse it. Raises ValidationError."""
    data = fp.read(settings.GENERATION_INPUT_MAX_BYTES + 1)
    if len(data) > settings.GENERATION_INPUT_MAX_BYTES:
        raise _refuse(f"Images may be at most {settings.GENERATION_INPUT_MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise _refuse("The image is empty.")
    im = _open(data)
    fmt = im.format or "PNG"
    with contextlib.suppress(Exception):  # a broken EXIF block just means "no rotation"
        im = ImageOps.exif_transpose(im)  # keep the orientation the EXIF data asked for, then drop EXIF
    content = _encode(im, fmt)
    return ProcessedImage(
        content=content,
        file_type="jpeg" if fmt == "JPEG" else "png",
        width=im.width,
        height=im.height,
        analysis={
            "format": fmt,
            "width": im.width,
            "height": im.height,
            "size_bytes": len(content),
            **analyse(im),
        },
    )


def combined_palette(analyses: list[dict[str, Any]], limit: int = PALETTE_COLOURS) -> list[str]:
    """The dominant colours over several images, most common first."""
    shares: dict[str, float] = {}
    for a in analyses:
        for entry in a.get("palette", []):
            shares[entry["colour"]] = shares.get(entry["colour"], 0.0) + float(entry.get("share", 0))
    return [c for c, _ in sorted(shares.items(), key=lambda kv: -kv[1])][:limit]
