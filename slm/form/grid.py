"""Choosing a snapshot's grid: the coarsest whose round trip keeps the drawings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.svg.parse import SvgError, parse_svg, parse_view_box
from slm.form.decode import decode
from slm.form.encode import try_encode
from slm.form.spec import FormSpec

GRID_MAX_L2 = 0.002  # mean pixel L2 at 64 px a round trip may cost (README: measured per icon set)
GRID_STEPS = (1, 2, 4, 8)
FALLBACK_GRIDS = (32, 64, 128, 256)


@dataclass(frozen=True)
class GridChoice:
    spec: FormSpec
    round_trip_l2: float  # mean over the sample, at 64 px
    sample: int
    tried: dict[int, float]  # grid -> mean L2


def choose_grid(svgs: Sequence[str], *, max_l2: float = GRID_MAX_L2, sample: int = 200) -> GridChoice:
    """The coarsest grid whose round trip keeps the drawings (mean L2 at 64 px within `max_l2`).

    Candidates are multiples of the set's usual viewBox side (24 → 24, 48, 96, 192: its integer
    coordinates stay exact), or powers of two when it has none. Decoded designs get that usual side as
    their viewBox, so they fit beside the set's own icons.
    """
    from core.svg.compare import pixel_l2, try_rasterise

    picked = list(svgs)
    if len(picked) > sample:
        step = len(picked) / sample
        picked = [picked[int(i * step)] for i in range(sample)]
    sides = []
    for svg in picked:
        try:
            vb = parse_view_box(parse_svg(svg).get("viewBox"))
        except SvgError:
            continue
        if vb is not None:
            sides.append(max(vb[2], vb[3]))
    usual = max(set(sides), key=sides.count) if sides else 0.0
    whole = usual.is_integer() and 8 <= usual <= 512
    grids = [int(usual) * k for k in GRID_STEPS] if whole else list(FALLBACK_GRIDS)
    view = usual if whole else float(FALLBACK_GRIDS[-1])
    originals = [(svg, try_rasterise(svg)) for svg in picked]
    originals = [(svg, r) for svg, r in originals if r is not None]
    tried: dict[int, float] = {}
    for grid in grids:
        spec = FormSpec(grid=grid, view=view if whole else float(grid))
        losses = []
        for svg, original in originals:
            encoded, _ = try_encode(svg, spec)
            if encoded is None:
                continue
            decoded = try_rasterise(decode(encoded.text, spec).svg)
            if decoded is not None:
                losses.append(pixel_l2(original, decoded))
        tried[grid] = sum(losses) / len(losses) if losses else 1.0
        if tried[grid] <= max_l2:
            return GridChoice(spec, tried[grid], len(losses), tried)
    best = min(tried, key=tried.__getitem__)
    return GridChoice(
        FormSpec(grid=best, view=view if whole else float(best)), tried[best], len(originals), tried
    )
