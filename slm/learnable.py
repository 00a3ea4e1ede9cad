"""Can a data set be learned in a time budget? An estimate from the data profile alone, given before
training, so nobody spends a budget that cannot be enough.

    budget needed = training examples × tokens per example × passes needed ÷ tokens per second

Assumptions, each stated in the message it gives:
- *passes needed*: PASSES_TO_LEARN passes over the training set. Measured on this project's 2-core
  machine (slm.recipe): the 4-layer, 128-wide model, its points starting on the grid, learned 1,597
  Lucide icons by heart (training-prompt IoU 0.88) in about 48 passes of 600 s; MDI's 6,470 icons, given
  600 s (about 10 passes), were not (training-prompt IoU 0.54). Bigger models are assumed to need as
  many passes.
- *tokens per example*: the profile's mean sequence length (prompt pieces + design units + 3), measured
  on up to 5,000 of its examples; shortened prompt variants are extra sequences of the same examples and
  are not counted as passes.
- *tokens per second*: measured, by the caller: the newest finished runs of the same model shape on
  this deployment when there are any, else the recipe's figure for that shape, measured on the 2-core
  development machine (a GPU or more cores train faster, and the estimate is then pessimistic).
Nothing here depends on a set's name: only on its size and its sequences' length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slm.recipe import TARGET_PASSES, TIERS, DataProfile

PASSES_TO_LEARN = TARGET_PASSES


@dataclass(frozen=True)
class BudgetEstimate:
    examples: int
    tokens_per_example: float
    passes: int
    tokens_per_second: float
    throughput_source: str  # where tokens_per_second comes from, in words
    budget_seconds: float | None = None  # the budget judged, if any

    @property
    def needed_seconds(self) -> int:
        tokens = self.examples * self.tokens_per_example * self.passes
        return int(math.ceil(tokens / max(1.0, self.tokens_per_second)))

    @property
    def passes_in_budget(self) -> float:
        if not self.budget_seconds:
            return 0.0
        per_pass = max(1.0, self.examples * self.tokens_per_example)
        return self.budget_seconds * self.tokens_per_second / per_pass

    @property
    def learnable(self) -> bool:
        return self.budget_seconds is None or self.budget_seconds >= self.needed_seconds

    def assumptions(self) -> str:
        return (
            f"{self.examples:,} training examples × {self.tokens_per_example:,.0f} tokens each × "
            f"{self.passes} passes (what a small model needed to learn ~1,600 icons by heart) ÷ "
            f"{self.tokens_per_second:,.0f} tokens/s ({self.throughput_source})"
        )

    def message(self) -> str:
        """One plain paragraph: learnable in the budget or not, the budget needed, and why."""
        needed = f"about {self.needed_seconds:,} s ({self.needed_seconds / 60:,.0f} min)"
        if self.budget_seconds is None:
            return f"Learning this set is estimated to take {needed}: {self.assumptions()}."
        if self.learnable:
            return (
                f"{int(self.budget_seconds):,} s should be enough to learn this set ({needed} estimated, "
                f"~{self.passes_in_budget:,.0f} passes in the budget): {self.assumptions()}."
            )
        return (
            f"This set cannot be learned in {int(self.budget_seconds):,} s: that is ~"
            f"{self.passes_in_budget:,.1f} passes over it, and learning it is estimated to take {needed}: "
            f"{self.assumptions()}. Give it that budget, or a smaller set."
        )


def shape_tokens_per_second(profile: DataProfile) -> tuple[int, int, float]:
    """(n_layer, n_embd, tokens/s measured on the development machine) of the model the recipe picks."""
    per_pass = max(1, profile.train_examples) * max(1.0, profile.mean_tokens)
    tier = next(t for limit, t in TIERS if per_pass <= limit)
    return tier.n_layer, tier.n_embd, tier.tokens_per_second


def estimate_budget(
    profile: DataProfile,
    *,
    budget_seconds: float | None = None,
    tokens_per_second: float | None = None,
    throughput_source: str = "",
) -> BudgetEstimate:
    """The estimate for this profile; `tokens_per_second` measured by the caller (else the recipe's
    figure for the model shape it picks)."""
    _, _, recipe_rate = shape_tokens_per_second(profile)
    rate = tokens_per_second if tokens_per_second and tokens_per_second > 0 else recipe_rate
    source = throughput_source if tokens_per_second else "measured for this model size on a 2-core CPU"
    return BudgetEstimate(
        examples=max(1, profile.train_examples),
        tokens_per_example=max(1.0, profile.mean_tokens),
        passes=PASSES_TO_LEARN,
        tokens_per_second=float(rate),
        throughput_source=source,
        budget_seconds=float(budget_seconds) if budget_seconds else None,
    )
