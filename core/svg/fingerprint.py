"""A design's visual fingerprint: what its rendering looks like, as a perceptual hash and a compact vector.

The rendering (through render_png, so the SVG is sanitised again) is read as *ink*: how opaque each pixel
is, whatever its colour, so a recoloured copy has the same fingerprint. The ink is cropped to its bounding
box and centred in a square before it is measured, so a copy moved by a unit or two has the same one too.
From that square:
- `phash`: imagehash's perceptual hash (64 bits, DCT), stored as 16 hex digits, for people and exports;
- `vector`: the ink at VECTOR_SIDE × VECTOR_SIDE, mean-centred and scaled to unit length, so the dot
  product of two vectors is their cosine similarity (1 for the same picture); this is what the vector
  index ranks by. The square is blurred first (BLUR_PX), so a stroke 10% wider or an edge a pixel off
  moves the vector little; measured in bench/near_duplicates.py.

An uploaded PNG or JPEG is read the same way: its alpha channel when it has one that varies, otherwise its
darkness against the lightest corner (a picture drawn on paper).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageFilter, UnidentifiedImageError

from core.svg.parse import SvgError
from core.svg.render import render_png

if TYPE_CHECKING:
    import numpy as np

FINGERPRINT_RENDER_SIZE = 128
WORK_SIDE = 64  # the centred ink square the hash and the vector are taken from
VECTOR_SIDE = 16
VECTOR_DIM = VECTOR_SIDE * VECTOR_SIDE
INK_MIN = 0.1  # opacity above which a pixel counts for the bounding box
BLUR_PX = 1.5  # Gaussian blur of the square before the vector: a thicker stroke or a pixel of jitter moves it little
MAX_UPLOAD_PIXELS = 16_000_000


@dataclass(frozen=True)
class Fingerprint:
    phash: str  # 16 hex digits
    vector: np.ndarray  # float32 [VECTOR_DIM], unit length


def _ink_square(ink: np.ndarray) -> Image.Image | None:
    """The ink cropped to its bounding box and centred in a square of WORK_SIDE px; None when blank."""
    import numpy as np

    rows = np.flatnonzero((ink > INK_MIN).any(axis=1))
    cols = np.flatnonzero((ink > INK_MIN).any(axis=0))
    if rows.size == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    im = Image.fromarray((square * 255).astype(np.uint8), mode="L")
    return im.resize((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)


def fingerprint_ink(ink: np.ndarray) -> Fingerprint | None:
    """The fingerprint of an ink map (float [h, w], 0 paper .. 1 ink); None when nothing is inked."""
    import imagehash
    import numpy as np

    square = _ink_square(ink)
    if square is None:
        return None
    blurred = square.filter(ImageFilter.GaussianBlur(BLUR_PX))
    phash = str(imagehash.phash(blurred))
    small = np.asarray(
        blurred.resize((VECTOR_SIDE, VECTOR_SIDE), Image.Resampling.BOX),
        dtype=np.float32,
    )
    vec = small.reshape(-1) / 255.0
    vec = vec - vec.mean()
    norm = float(np.linalg.norm(vec))
    if norm < 1e-6:  # a filled square: every cell the same
        vec = np.zeros(VECTOR_DIM, dtype=np.float32)
        vec[0] = 1.0
    else:
        vec = vec / norm
    return Fingerprint(phash=phash, vector=vec.astype(np.float32))


def fingerprint_svg(svg: str) -> Fingerprint | None:
    """Render (transparent) and fingerprint; None when it draws nothing. Raises SvgError when it cannot
    be rendered."""
    import numpy as np

    png = render_png(svg, size=FINGERPRINT_RENDER_SIZE, check_blank=False)
    with Image.open(io.BytesIO(png)) as im:
        alpha = np.asarray(im.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
    return fingerprint_ink(alpha)


def fingerprint_image(data: bytes) -> Fingerprint | None:
    """Fingerprint an uploaded PNG or JPEG. Raises SvgError when it is not one, or too large."""
    import numpy as np

    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as im:
            if im.width * im.height > MAX_UPLOAD_PIXELS:
                raise SvgError("The picture is too large (over 16 million pixels).")
            im.thumbnail((FINGERPRINT_RENDER_SIZE, FINGERPRINT_RENDER_SIZE))
            rgba = im.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SvgError("The picture must be a PNG or JPEG image.") from exc
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    if float(alpha.min()) < 0.99:
        return fingerprint_ink(alpha)
    grey = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
    paper = float(max(grey[0, 0], grey[0, -1], grey[-1, 0], grey[-1, -1]))
    return fingerprint_ink(np.clip((paper - grey) / max(paper, 1e-3), 0.0, 1.0))


def phash_distance(a: str, b: str) -> int:
    """Bits that differ between two stored perceptual hashes."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")
