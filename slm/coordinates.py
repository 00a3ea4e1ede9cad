"""Initial embeddings for the model form's number and point tokens that already know where they are.

A new model starts every token's embedding at random, so it must learn from data alone that the point
`10,12` lies next to `10,13`. With a point a token (form version 2) there are thousands of them, each
seen a few hundred times in a short run, and a model that has not learned their geometry yet draws
wherever it likes. Here a point's row starts as a smooth function of its coordinates:

    row(x, y) = A·f(x) + B·f(y) + noise,    row(n) = C·f(n) + noise,

with f(v) sines and cosines of v at periods from two grid widths down to four units,
and A, B, C random projections. Nearby points start close; far ones do not. The input and output
embeddings are tied, so the output starts to favour a point's neighbours as well. Nothing else changes:
the model is a plain GPT-2/Llama of the same shape, trained and converted as before (slm.model).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from slm.form.spec import INT_RE, POINT_RE

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

FREQUENCIES = 16  # per coordinate: sines and cosines, so 32 features
NOISE = 0.3  # of a row's norm: tokens stay distinct, and what the geometry misses is still learnable


def coordinate_rows(
    tokenizer: PreTrainedTokenizerFast, grid: int, width: int, seed: int = 0
) -> dict[int, list[float]]:
    """Token id -> initial embedding row (unit RMS) for every point and number token of the vocabulary."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    # Periods from two grid widths down to 4 units, spaced evenly in log: coarse and fine position (finer
    # detail is left to learning: shorter periods make neighbours unlike).
    periods = torch.logspace(math.log10(2 * grid), math.log10(4.0), FREQUENCIES, dtype=torch.float64)
    omega = 2 * math.pi / periods

    def features(v: torch.Tensor) -> torch.Tensor:
        angles = v[:, None].double() * omega[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1).float()

    proj = [torch.randn(2 * FREQUENCIES, width, generator=gen) for _ in range(3)]
    ids: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    singles: list[tuple[int, int]] = []
    for token, token_id in tokenizer.get_vocab().items():
        unit = token.removeprefix(" ")
        if m := POINT_RE.fullmatch(unit):
            ids.append(token_id)
            xs.append(int(m.group(1)))
            ys.append(int(m.group(2)))
        elif INT_RE.fullmatch(unit):
            singles.append((token_id, int(unit)))
    rows: dict[int, list[float]] = {}
    if ids:
        smooth = features(torch.tensor(xs)) @ proj[0] + features(torch.tensor(ys)) @ proj[1]
        rows.update(zip(ids, _with_noise(smooth, gen).tolist(), strict=True))
    if singles:
        smooth = features(torch.tensor([n for _, n in singles])) @ proj[2]
        rows.update(zip([i for i, _ in singles], _with_noise(smooth, gen).tolist(), strict=True))
    return rows


def _with_noise(smooth: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    import torch

    smooth = smooth / smooth.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-8)
    noise = torch.randn(smooth.shape, generator=gen)
    rows = math.sqrt(1 - NOISE**2) * smooth + NOISE * noise
    return rows / rows.pow(2).mean(dim=1, keepdim=True).sqrt()


def init_coordinate_embeddings(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, grid: int, seed: int = 0
) -> int:
    """Overwrite the input embedding rows of point and number tokens (RMS as the model's own init);
    returns how many rows were set."""
    import torch

    weight = model.get_input_embeddings().weight
    rows = coordinate_rows(tokenizer, grid, weight.shape[1], seed)
    if not rows:
        return 0
    scale = float(getattr(model.config, "initializer_range", 0.02))
    with torch.no_grad():
        index = torch.tensor(list(rows), dtype=torch.long)
        weight[index] = torch.tensor(list(rows.values()), dtype=weight.dtype) * scale
    return len(rows)
