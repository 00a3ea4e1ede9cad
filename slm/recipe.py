"""The default recipe: hyperparameters derived from what a snapshot holds, each with its reason.

Measured on this project's 2-core development machine (README, "Real design data"):
- a 4-layer, 128-wide GPT-2 whose point and number tokens start on the grid (slm.coordinates) learned
  1,597 Lucide icons by heart (training-prompt IoU 0.88) in ~48 passes (600 s); it trains at ~9,600
  tokens a second there in model form v2 with the loss over the design rows only (slm.output_rows:
  Lucide 8,909, MDI 10,270; 7,900 over every row; 6,000 before the output layer lost its bare-token
  rows; 14,000 in form v1, whose smaller vocabulary made each token cheaper); bigger models train fewer
  passes in the same time;
- on small sets, dropout 0.1, weight decay 0.1 and shortened prompt variants make designs for unseen
  prompts better (test ink IoU 0.29 -> 0.39 at 4,000 steps on Lucide) at little cost to memory;
- the validation loss of a small set is lowest long before its designs are best (it rises as the model
  learns the training icons by heart), and choosing by 48 validation designs is too noisy to beat the
  last, annealed state, so small sets keep the last state;
- choosing each design by consensus among 32 sampled candidates (core.svg.compare.consensus_order)
  scores higher against unseen references, and on training prompts, than the greedy decode.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slm.form.encode import try_encode
from slm.form.grid import choose_grid
from slm.tokenizer import PRETOKEN_PATTERN, prefix_text
from slm.train.config import TrainExample

SMALL_SET = 20_000  # training examples: below this, regularise, vary prompts, select by designs
CONTEXT_CAP = 2048
CONSENSUS = 32  # candidates a design is chosen from, on small model-form sets
TARGET_PASSES = 48  # over the training set, for the default time budget (what learned Lucide by heart)
# Fewer passes than this in the budget: the model cannot learn the set by heart, so it is not regularised
# (measured: Lucide over-fits without dropout at ~90 passes; MDI under-fits at ~10).
UNDERFIT_PASSES = TARGET_PASSES // 2
BUDGET_MIN_S, BUDGET_MAX_S = 300, 4 * 3600


@dataclass(frozen=True)
class DataProfile:
    """What the recipe reads off a snapshot (slm.form for the designs)."""

    train_examples: int
    mean_tokens: float  # a training sequence: prompt pieces + design units + 3 special tokens
    max_tokens: int
    clause_prompts: bool  # prompts of the `name; tags: …; categories: …` kind (icon sets)
    form: dict[str, Any] | None = None  # slm.form.spec.FormSpec.as_dict(), None: raw SVG


@dataclass(frozen=True)
class Tier:
    n_layer: int
    n_embd: int
    n_head: int
    learning_rate: float
    tokens_per_second: float  # measured on the 2-core CPU: for the default budget only


# The first tier's rate is measured (form v2); the others are scaled from it by parameters, not measured.
TIERS = (
    (5_000_000, Tier(4, 128, 4, 3e-3, 9_600)),
    (50_000_000, Tier(6, 192, 6, 2e-3, 2_100)),
    (math.inf, Tier(8, 256, 8, 1e-3, 850)),
)


@dataclass
class Recipe:
    values: dict[str, Any] = field(default_factory=dict)  # training.params.TrainingParams field values
    reasons: list[str] = field(default_factory=list)


def derive(profile: DataProfile, *, budget_seconds: float | None = None) -> Recipe:
    """Hyperparameters for this data, and why; `budget_seconds` given keeps that budget."""
    r = Recipe()
    n, mean = max(1, profile.train_examples), max(1.0, profile.mean_tokens)
    context = min(CONTEXT_CAP, 32 * math.ceil((profile.max_tokens + 8) / 32))
    r.values["n_positions"] = context
    r.reasons.append(
        f"Context {context} tokens: the longest sequence has {profile.max_tokens}"
        + (
            f"; longer ones (over {CONTEXT_CAP}) are left out and counted."
            if profile.max_tokens > CONTEXT_CAP
            else "."
        )
    )
    per_pass = n * mean
    tier = next(t for limit, t in TIERS if per_pass <= limit)
    r.values.update(
        n_layer=tier.n_layer, n_embd=tier.n_embd, n_head=tier.n_head, learning_rate=tier.learning_rate
    )
    r.reasons.append(
        f"A {tier.n_layer}-layer, {tier.n_embd}-wide model at learning rate {tier.learning_rate:g}: one pass "
        f"over the {n:,} training sequences is {per_pass:,.0f} tokens."
    )
    small = n < SMALL_SET
    passes = _planned_seconds(per_pass, tier, budget_seconds) * tier.tokens_per_second / per_pass
    regularise = small and passes >= UNDERFIT_PASSES
    r.values.update(dropout=0.1 if regularise else 0.0, weight_decay=0.1 if regularise else 0.01)
    if regularise:
        r.reasons.append(
            "Dropout 0.1 and weight decay 0.1: a small set is learned by heart quickly, regularising helps "
            "unseen prompts."
        )
    elif small:
        r.reasons.append(
            f"No dropout: the budget gives about {passes:,.0f} passes over the set, under {UNDERFIT_PASSES}, "
            "too few to learn it by heart, so regularising would only slow the learning."
        )
    else:
        r.reasons.append("No dropout: a large set is its own regulariser.")
    variants = 3 if small and profile.clause_prompts else 1
    r.values["prompt_variants"] = variants
    if variants > 1:
        r.reasons.append(
            "Each prompt is also trained on in 2 shortened variants (tags and categories thinned)."
        )
    select = "last" if small and profile.form else "val_loss"
    r.values["select_by"] = select
    r.reasons.append(
        "Keeps the last state (the learning rate has annealed by then): on a small set the validation "
        "loss is lowest long before the designs are best, and picking by 48 validation designs chose an "
        "earlier, worse state on Lucide."
        if select == "last"
        else "Keeps the state with the lowest validation loss."
    )
    consensus = CONSENSUS if small and profile.form else 0
    r.values["consensus"] = consensus
    if consensus:
        r.reasons.append(
            f"Each design is the one of {consensus} candidates sampled at temperature 1 that agrees most with "
            "the others when rendered: on Lucide that scored higher against unseen references than the "
            "greedy decode."
        )
    if budget_seconds:
        r.values["budget_seconds"] = int(budget_seconds)
        r.reasons.append(
            f"Budget {int(budget_seconds)} s as asked: about {budget_seconds * tier.tokens_per_second / per_pass:,.0f} "
            "passes on a 2-core CPU."
        )
    else:
        budget = int(_planned_seconds(per_pass, tier, None))
        r.values["budget_seconds"] = budget
        r.reasons.append(
            f"Budget {budget} s: about {TARGET_PASSES} passes over the training set on a 2-core CPU "
            f"(~{tier.tokens_per_second:,.0f} tokens/s), within {BUDGET_MIN_S}–{BUDGET_MAX_S} s."
        )
    r.values["warmup_steps"] = 30
    r.values["batch_size"] = 32
    # Batches of a token budget, not a count: 32 sequences of the mean length, so a step learns from as
    # many tokens as before on average, but one of the longest designs costs no more time or memory.
    batch_tokens = max(context, 256 * math.ceil(32 * mean / 256))
    r.values["batch_tokens"] = batch_tokens
    r.reasons.append(
        f"Batches of up to {batch_tokens:,} padded tokens (about 32 sequences of the mean length, "
        f"{mean:.0f} tokens): long designs make smaller batches, not slower, bigger steps."
    )
    return r


def _planned_seconds(per_pass: float, tier: Tier, budget_seconds: float | None) -> float:
    """The budget asked for, else the default: TARGET_PASSES passes, within BUDGET_MIN_S–BUDGET_MAX_S."""
    if budget_seconds:
        return float(budget_seconds)
    needed = TARGET_PASSES * per_pass / tier.tokens_per_second
    return float(min(BUDGET_MAX_S, max(BUDGET_MIN_S, 60 * math.ceil(needed / 60))))


PROFILE_SAMPLE = 5_000
FAILURES_LISTED = 50


def profile_examples(examples: Sequence[TrainExample], *, sample: int = PROFILE_SAMPLE) -> dict[str, Any]:
    """What the recipe needs to know of a training split, as JSON: the model-form grid chosen for it
    (slm.form.grid.choose_grid), how many designs the form cannot express and why, and sequence
    lengths in tokens (prompt pieces as the tokenizer splits them, one token a form unit). Read from an
    evenly spread sample of at most `sample` examples."""
    picked = list(examples)
    if len(picked) > sample:
        step = len(picked) / sample
        picked = [picked[int(i * step)] for i in range(sample)]
    if not picked:
        return {"train_examples": 0, "sampled": 0}
    grid = choose_grid([e.svg for e in picked])
    pieces = re.compile(PRETOKEN_PATTERN)
    lengths: list[int] = []
    failures: list[dict[str, str]] = []
    failed = 0
    for e in picked:
        encoded, why = try_encode(e.svg, grid.spec)
        if encoded is None:
            failed += 1
            if len(failures) < FAILURES_LISTED:
                failures.append({"prompt": e.prompt[:200], "reason": why})
            continue
        lengths.append(len(pieces.findall(prefix_text(e.prompt, e.context))) + encoded.units + 3)
    return {
        "train_examples": len(examples),
        "sampled": len(picked),
        "form": grid.spec.as_dict(),
        "round_trip_l2": grid.round_trip_l2,
        "grids_tried": {str(k): v for k, v in grid.tried.items()},
        "unconvertible": failed,
        "unconvertible_examples": failures,
        "mean_tokens": statistics.fmean(lengths) if lengths else 0.0,
        "max_tokens": max(lengths, default=0),
        "clause_prompts": sum(";" in e.prompt for e in picked) > len(picked) / 2,
    }


def data_profile(profile: dict[str, Any]) -> DataProfile:
    return DataProfile(
        train_examples=int(profile.get("train_examples", 0)),
        mean_tokens=float(profile.get("mean_tokens", 0.0)),
        max_tokens=int(profile.get("max_tokens", 0)),
        clause_prompts=bool(profile.get("clause_prompts")),
        form=profile.get("form"),
    )
