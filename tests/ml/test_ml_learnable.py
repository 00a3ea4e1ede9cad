"""Can a set be learned in a budget? The estimate from the data profile alone."""

from __future__ import annotations

from slm.learnable import PASSES_TO_LEARN, estimate_budget
from slm.recipe import DataProfile

FORM = {"grid": 48, "view": 24.0}
# Sizes as the README reports them: ~1,600 Lucide training icons of ~54 tokens, 6,470 MDI icons of ~150.
STROKES = DataProfile(train_examples=1_600, mean_tokens=54, max_tokens=300, clause_prompts=True, form=FORM)
FILLS = DataProfile(train_examples=6_470, mean_tokens=150, max_tokens=900, clause_prompts=True, form=FORM)


def test_the_needed_budget_is_examples_times_tokens_times_passes_over_throughput() -> None:
    e = estimate_budget(FILLS, tokens_per_second=10_000, throughput_source="measured here")
    # 6,470 × 150 × 48 ÷ 10,000 = 4,658.4 s.
    assert PASSES_TO_LEARN == 48 and e.needed_seconds == 4_659
    doubled = estimate_budget(
        DataProfile(12_940, 150, 900, True, FORM), tokens_per_second=10_000, throughput_source="x"
    )
    assert abs(doubled.needed_seconds - 2 * e.needed_seconds) <= 60
    assert "measured here" in e.message() and "10,000 tokens/s" in e.message()


def test_a_small_stroke_set_fits_1200_s_and_a_large_fill_set_does_not_fit_600_s() -> None:
    # At the recipe's measured 9,600 tokens/s: 1,600 × 54 × 48 ÷ 9,600 = 432 s.
    fits = estimate_budget(STROKES, budget_seconds=1_200)
    assert fits.learnable and fits.needed_seconds == 432 and "should be enough" in fits.message()
    short = estimate_budget(FILLS, budget_seconds=600)
    assert not short.learnable and short.needed_seconds > 2_400
    text = short.message()
    assert text.startswith("This set cannot be learned in 600 s")
    assert f"about {short.needed_seconds:,} s" in text
    # The assumptions are spelt out.
    assert (
        "6,470 training examples" in text
        and "150 tokens each" in text
        and f"{PASSES_TO_LEARN} passes" in text
    )
    assert estimate_budget(FILLS, budget_seconds=short.needed_seconds).learnable


def test_faster_measured_throughput_makes_a_set_learnable() -> None:
    assert estimate_budget(
        FILLS, budget_seconds=600, tokens_per_second=200_000, throughput_source="GPU"
    ).learnable
