"""How well a model draws a data set, beside honest baselines, as pictures a person can judge.

For up to 200 test prompts the model's greedy design is compared with the prompt's own reference
(core.svg.compare: ink IoU, balanced IoU `biou` (ink and paper alike) and pixel L2 at 64 px). In the same
call, on the same prompts:
- *blank*: drawing nothing;
- *random*: a training design picked at random (seeded);
- *retrieval*: the training design whose name (the prompt's words before the first `;`, without
  "icon") overlaps the test prompt's most (Jaccard);
- *train*: the model on up to 64 of its own training prompts: has it learned the data at all?
Also counted: degenerate designs (unrenderable, blank, or a filled canvas), copies (a design identical to
a training example as the model writes them), and diversity (distinct designs among 4 candidates at
temperature 0.8). Every figure is also given per complexity third of the references (path commands).
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.svg.compare import (
    Raster,
    balanced_iou,
    blank_raster,
    degenerate_reason,
    ink_iou,
    pixel_l2,
    try_rasterise,
)
from core.svg.geometry import command_count

# references (their prompt and context), candidates per prompt, temperature, seed -> candidates' SVGs
GenerateFn = Callable[[Sequence["Reference"], int, float, int], list[list[str]]]
STRATA = ("low", "medium", "high")
# The summary line's names, in order; other tools read the line: add names at the end, never rename.
# fmt: off
SUMMARY_KEYS = (
    "valid_nondegenerate", "iou", "l2", "blank_l2", "random_iou", "retrieval_iou", "train_iou",
    "biou", "random_biou", "retrieval_biou", "greedy_valid",
)
# fmt: on


@dataclass(frozen=True)
class QualityConfig:
    test_prompts: int = 200
    train_prompts: int = 64
    diversity_prompts: int = 16
    diversity_candidates: int = 4
    diversity_temperature: float = 0.8
    gallery_size: int = 12
    seed: int = 0


@dataclass(frozen=True)
class Reference:
    prompt: str
    svg: str  # the stored (sanitised) design
    context: str | None = None  # the conditioning text it was trained or is asked with


@dataclass
class GalleryItem:
    prompt: str
    reference_svg: str
    svg: str
    iou: float
    degenerate: str  # "" when usable
    stratum: str
    biou: float = 0.0


@dataclass
class QualityReport:
    metrics: dict[str, float] = field(default_factory=dict)
    strata: dict[str, dict[str, float]] = field(default_factory=dict)
    gallery: list[GalleryItem] = field(default_factory=list)

    def flat(self) -> dict[str, float]:
        """metrics plus `<stratum>_<metric>` keys: what a run stores."""
        out = dict(self.metrics)
        for name, figures in self.strata.items():
            out.update({f"{name}_{k}": v for k, v in figures.items()})
        return out


def name_words(prompt: str) -> frozenset[str]:
    """The words of a prompt's name: before the first `;`, lower-cased, without "icon"."""
    name = prompt.split(";", 1)[0].lower()
    return frozenset(w for w in re.findall(r"[a-z0-9]+", name) if w != "icon")


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def retrieve(prompt: str, train_words: Sequence[frozenset[str]]) -> int:
    """Index of the training prompt whose name overlaps most (the first of equals)."""
    words = name_words(prompt)
    best, best_score = 0, -1.0
    for i, other in enumerate(train_words):
        score = jaccard(words, other)
        if score > best_score:
            best, best_score = i, score
    return best


def _strata(counts: Sequence[int]) -> list[str]:
    """low / medium / high thirds of the references' complexity."""
    ranked = sorted(counts)
    if not ranked:
        return []
    lo = ranked[len(ranked) // 3]
    hi = ranked[(2 * len(ranked)) // 3]
    return ["low" if c < lo else "high" if c >= hi and hi > lo else "medium" for c in counts]


def _mean(values: Sequence[float]) -> float:
    return float(statistics.fmean(values)) if values else 0.0


def _greedy_figures(
    greedy: GenerateFn, test: Sequence[Reference], own: Sequence[Reference], refs: Sequence[Raster], seed: int
) -> dict[str, float]:
    """The greedy decodes scored apart from the designs chosen by consensus (`*_greedy`, greedy_valid)."""
    plain = [try_rasterise(c[0]) if c and c[0] else None for c in greedy(test, 1, 0.0, seed)]
    plain_own = [try_rasterise(c[0]) if c and c[0] else None for c in greedy(own, 1, 0.0, seed)]
    drawn = [g or blank_raster() for g in plain]
    valid = sum(not degenerate_reason(g) for g in plain) / max(1, len(plain))
    return {
        "greedy_valid": valid,
        "valid_nondegenerate_greedy": valid,
        "iou_greedy": _mean([ink_iou(g, r) for g, r in zip(drawn, refs, strict=True)]),
        "biou_greedy": _mean([balanced_iou(g, r) for g, r in zip(drawn, refs, strict=True)]),
        "train_iou_greedy": _mean(
            [
                ink_iou(g or blank_raster(), try_rasterise(r.svg) or blank_raster())
                for g, r in zip(plain_own, own, strict=True)
            ]
        ),
    }


def _strata_figures(
    labels: Sequence[str],
    complexity: Sequence[int],
    reasons: Sequence[str],
    per_design: dict[str, list[float]],
    baselines: dict[str, list[Raster]],
    refs: Sequence[Raster],
) -> dict[str, dict[str, float]]:
    """Every figure per complexity third (the baselines' IoUs but drawing nothing's)."""
    strata: dict[str, dict[str, float]] = {}
    for name in STRATA:
        idx = [i for i, s in enumerate(labels) if s == name]
        if not idx:
            continue
        figures = {
            "n": float(len(idx)),
            "commands": _mean([complexity[i] for i in idx]),
            "valid_nondegenerate": sum(not reasons[i] for i in idx) / len(idx),
            **{key: _mean([values[i] for i in idx]) for key, values in per_design.items()},
        }
        for base, rasters in baselines.items():
            if base != "blank":
                figures[f"{base}_iou"] = _mean([ink_iou(rasters[i], refs[i]) for i in idx])
                figures[f"{base}_biou"] = _mean([balanced_iou(rasters[i], refs[i]) for i in idx])
        strata[name] = figures
    return strata


def evaluate_quality(
    generate: GenerateFn,
    train: Sequence[Reference],
    test: Sequence[Reference],
    *,
    as_written: Callable[[str], str | None] = lambda svg: svg,
    config: QualityConfig | None = None,
    on_progress: Callable[[str], None] | None = None,
    greedy: GenerateFn | None = None,
) -> QualityReport:
    """Score the model (through `generate`) on `test` and up to 64 `train` prompts, with the baselines.

    `as_written(svg)` is a design as the model would write it (its form decoded), or None when it has
    none; a test design equal to one of the training designs so written is a copy. `greedy`, when the
    model's designs are not its greedy decodes (a consensus of candidates), also scores the greedy decodes
    (`*_greedy` metrics), so the two can be compared.
    """
    cfg = config or QualityConfig()
    rng = random.Random(cfg.seed)
    test = list(test[: cfg.test_prompts])
    if not test or not train:
        return QualityReport()
    note = on_progress or (lambda _msg: None)
    note(f"Generating {len(test)} test designs.")
    designs = [c[0] if c else "" for c in generate(test, 1, 0.0, cfg.seed)]
    refs = [try_rasterise(r.svg) or blank_raster() for r in test]
    got = [try_rasterise(svg) if svg else None for svg in designs]
    reasons = [degenerate_reason(g) for g in got]
    drawn = [g or blank_raster() for g in got]
    ious = [ink_iou(g, r) for g, r in zip(drawn, refs, strict=True)]
    bious = [balanced_iou(g, r) for g, r in zip(drawn, refs, strict=True)]
    l2s = [pixel_l2(g, r) for g, r in zip(drawn, refs, strict=True)]

    note("Scoring the baselines.")
    blank = blank_raster()
    train_rasters: dict[int, Raster] = {}

    def train_raster(i: int) -> Raster:
        if i not in train_rasters:
            train_rasters[i] = try_rasterise(train[i].svg) or blank_raster()
        return train_rasters[i]

    random_picks = [rng.randrange(len(train)) for _ in test]
    train_words = [name_words(r.prompt) for r in train]
    retrieved = [retrieve(r.prompt, train_words) for r in test]
    baselines = {
        "blank": [blank for _ in test],
        "random": [train_raster(i) for i in random_picks],
        "retrieval": [train_raster(i) for i in retrieved],
    }

    written = {w for w in (as_written(r.svg) for r in train) if w}
    copies = [bool(svg) and svg in written for svg in designs]

    note("Checking capacity on training prompts.")
    own = rng.sample(list(train), min(cfg.train_prompts, len(train)))
    own_designs = [c[0] if c else "" for c in generate(own, 1, 0.0, cfg.seed)]
    own_ious = [
        ink_iou(
            try_rasterise(svg) or blank_raster() if svg else blank_raster(),
            try_rasterise(r.svg) or blank_raster(),
        )
        for svg, r in zip(own_designs, own, strict=True)
    ]

    note("Sampling candidates for diversity.")
    candidates = generate(
        test[: cfg.diversity_prompts], cfg.diversity_candidates, cfg.diversity_temperature, cfg.seed
    )
    distinct = [len(set(c)) for c in candidates]

    n = len(test)
    # Without `greedy` the designs are the greedy decodes themselves.
    extra: dict[str, float] = {"greedy_valid": sum(not r for r in reasons) / n}
    if greedy is not None:
        note("Scoring greedy decodes for comparison.")
        extra = _greedy_figures(greedy, test, own, refs, cfg.seed)
    metrics = {
        "eval_prompts": float(n),
        "valid_nondegenerate": sum(not r for r in reasons) / n,
        "iou": _mean(ious),
        "biou": _mean(bious),
        "l2": _mean(l2s),
        "degenerate_unrenderable": sum(r == "unrenderable" for r in reasons) / n,
        "degenerate_blank": sum(r == "blank" for r in reasons) / n,
        "degenerate_filled": sum(r == "filled" for r in reasons) / n,
        "copy_rate": sum(copies) / n,
        "diversity": _mean(distinct),
        "train_prompts": float(len(own)),
        "train_iou": _mean(own_ious),
        **extra,
    }
    for name, rasters in baselines.items():
        metrics[f"{name}_iou"] = _mean([ink_iou(b, r) for b, r in zip(rasters, refs, strict=True)])
        metrics[f"{name}_biou"] = _mean([balanced_iou(b, r) for b, r in zip(rasters, refs, strict=True)])
        metrics[f"{name}_l2"] = _mean([pixel_l2(b, r) for b, r in zip(rasters, refs, strict=True)])

    complexity = [command_count(r.svg) for r in test]
    labels = _strata(complexity)
    per_design = {"iou": ious, "biou": bious, "l2": l2s}
    strata = _strata_figures(labels, complexity, reasons, per_design, baselines, refs)

    # The gallery spreads over the strata: a few of each, in test order.
    per = max(1, cfg.gallery_size // len(STRATA))
    chosen = [i for name in STRATA for i in [j for j, s in enumerate(labels) if s == name][:per]]
    gallery = [
        GalleryItem(test[i].prompt, test[i].svg, designs[i], ious[i], reasons[i], labels[i], bious[i])
        for i in sorted(chosen)
    ]
    return QualityReport(metrics=metrics, strata=strata, gallery=gallery)


def summary_line(metrics: dict[str, Any], steps: int | None = None) -> str:
    """The one-line summary train_icon_model and evaluate_model print last."""
    parts = [f"{k}={float(metrics.get(k, 0.0)):.4f}" for k in SUMMARY_KEYS]
    if steps is not None:
        parts.append(f"steps={steps}")
    return " ".join(parts)
