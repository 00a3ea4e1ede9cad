"""Designs compared as pictures: what a person would see, measured.

Both designs are rendered at 64×64 on white and read in greyscale from 0 (black) to 1 (white). The *ink*
is the pixels darker than 0.5, dilated by one pixel (a 3×3 maximum), so a stroke drawn one pixel off
still overlaps. From these:
- ink IoU: intersection over union of the two inks (1.0 when both are empty);
- paper IoU: the same of the unpainted pixels (what is left white; 1.0 when both are all ink);
- balanced IoU (`biou`): the mean of the two. Ink IoU alone flatters a blob: a filled canvas covers every
  reference's ink, and against a filled reference it scores high. Paper IoU punishes exactly that, so a
  filled canvas and a blank one both score at most 0.5 against anything, and only a drawing that puts ink
  and paper where the reference does scores near 1;
- pixel L2: the mean squared difference of the greyscale images;
- degenerate: an SVG that does not parse or render, renders blank, or inks more than 60% of the canvas;
- consensus: of several candidates for one prompt, the one whose ink agrees most with the others.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from core.svg.parse import SvgError
from core.svg.render import render_png

if TYPE_CHECKING:
    import numpy as np

COMPARE_SIZE = 64
INK_BELOW = 0.5
FILLED_INK = 0.6  # inked share of the canvas above which a design is a filled canvas, not a drawing


@dataclass(frozen=True)
class Raster:
    grey: np.ndarray  # float32 [size, size], 0 black .. 1 white
    ink: np.ndarray  # bool [size, size], dilated

    @property
    def ink_share(self) -> float:
        return float(self.ink.mean())


def _ink(grey: np.ndarray) -> np.ndarray:
    import numpy as np

    dark = np.pad(grey < INK_BELOW, 1)
    size = grey.shape[0]
    out = np.zeros(grey.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            out |= dark[dy : dy + size, dx : dx + size]
    return out


def blank_raster(size: int = COMPARE_SIZE) -> Raster:
    import numpy as np

    grey = np.ones((size, size), dtype=np.float32)
    return Raster(grey, _ink(grey))


def rasterise(svg: str, size: int = COMPARE_SIZE) -> Raster:
    """Render on white into a size×size greyscale raster (centred when the viewBox is not square).
    Raises SvgError when the SVG cannot be rendered."""
    import numpy as np

    png = render_png(svg, size=size, background="white", check_blank=False)
    with Image.open(io.BytesIO(png)) as im:
        grey_im = im.convert("L")
    if grey_im.size != (size, size):
        canvas = Image.new("L", (size, size), 255)
        canvas.paste(grey_im, ((size - grey_im.size[0]) // 2, (size - grey_im.size[1]) // 2))
        grey_im = canvas
    grey = np.asarray(grey_im, dtype=np.float32) / 255.0
    return Raster(grey, _ink(grey))


def ink_iou(a: Raster, b: Raster) -> float:
    union = int((a.ink | b.ink).sum())
    return 1.0 if union == 0 else float((a.ink & b.ink).sum()) / union


def paper_iou(a: Raster, b: Raster) -> float:
    paper_a, paper_b = ~a.ink, ~b.ink
    union = int((paper_a | paper_b).sum())
    return 1.0 if union == 0 else float((paper_a & paper_b).sum()) / union


def balanced_iou(a: Raster, b: Raster) -> float:
    """Mean of ink IoU and paper IoU: 1 for the same picture, at most 0.5 for a blank or filled canvas."""
    return (ink_iou(a, b) + paper_iou(a, b)) / 2


def pixel_l2(a: Raster, b: Raster) -> float:
    return float(((a.grey - b.grey) ** 2).mean())


def degenerate_reason(raster: Raster | None) -> str:
    """ "unrenderable", "blank", "filled" or "" for a usable drawing."""
    if raster is None:
        return "unrenderable"
    if not raster.ink.any() and float(raster.grey.min()) >= 0.999:
        return "blank"
    if raster.ink_share > FILLED_INK:
        return "filled"
    return ""


def try_rasterise(svg: str, size: int = COMPARE_SIZE) -> Raster | None:
    try:
        return rasterise(svg, size)
    except SvgError:
        return None


def consensus_order(svgs: Sequence[str], size: int = COMPARE_SIZE) -> list[int]:
    """Candidates' indices, the one most like the others first: each usable candidate is scored by its
    mean ink IoU with the other usable ones (minimum-Bayes-risk selection with ink IoU as the utility);
    degenerate candidates follow in their own order. Ties keep the given order."""
    import numpy as np

    rasters = [try_rasterise(svg, size) if svg else None for svg in svgs]
    usable = [i for i, r in enumerate(rasters) if not degenerate_reason(r)]
    rest = [i for i in range(len(svgs)) if i not in set(usable)]
    if len(usable) < 3:  # with two, agreement cannot tell them apart
        return usable + rest
    inks = np.stack([rasters[i].ink.reshape(-1) for i in usable]).astype(np.int32)  # type: ignore[union-attr]
    inter = inks @ inks.T
    sizes = inks.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    np.fill_diagonal(iou, 0.0)
    score = iou.sum(axis=1)
    ranked = sorted(range(len(usable)), key=lambda k: (-score[k], k))
    return [usable[k] for k in ranked] + rest
