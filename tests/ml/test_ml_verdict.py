"""The one rule that says whether a version has learned its set (pages and the production gate)."""

from __future__ import annotations

from slm.quality.verdict import LEARNED, NO_FIGURES, NOT_LEARNED, learning_verdict

GOOD = {
    "iou": 0.49,
    "random_iou": 0.31,
    "retrieval_iou": 0.53,
    "train_iou": 0.73,
    "biou": 0.70,
    "random_biou": 0.60,
    "l2": 0.228,
    "blank_l2": 0.247,
}


def test_a_model_above_every_baseline_has_learned() -> None:
    v = learning_verdict(GOOD)
    assert v.state == LEARNED and v.learned and not v.reasons
    assert v.sentence.startswith("Draws better") and "balanced IoU 0.700 against 0.600" in v.sentence


def test_blobs_that_flatter_ink_iou_are_not_learned() -> None:
    # Ink IoU clears the old margin; the balanced score does not beat a random icon: not learned.
    v = learning_verdict({**GOOD, "biou": 0.55})
    assert v.state == NOT_LEARNED and v.sentence.startswith("Not learned:") and "balanced IoU" in v.sentence
    assert learning_verdict({**GOOD, "biou": GOOD["random_biou"]}).not_learned  # equal is not above


def test_worse_than_drawing_nothing_is_not_learned() -> None:
    v = learning_verdict({**GOOD, "l2": 0.295, "blank_l2": 0.268})
    assert v.not_learned and "drawing nothing" in v.sentence
    assert learning_verdict({**GOOD, "l2": GOOD["blank_l2"]}).not_learned


def test_the_older_rules_still_hold() -> None:
    assert learning_verdict({**GOOD, "iou": 0.35}).not_learned  # under random + 0.10
    assert "redraw" in learning_verdict({**GOOD, "train_iou": 0.4}).sentence
    assert learning_verdict({**GOOD, "train_iou": 0.4}).not_learned
    # A version evaluated before biou existed is judged on what it has.
    old = {k: v for k, v in GOOD.items() if "biou" not in k}
    assert learning_verdict(old).learned


def test_no_real_data_figures_is_neither() -> None:
    v = learning_verdict({"adherence_rate": 0.98})
    assert v.state == NO_FIGURES and not v.learned and not v.not_learned
