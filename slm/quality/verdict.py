"""Has a model learned its data set? One rule, read off a version's real-data figures
(slm.quality.designs), used by the run and version pages and by the gate on `production`
(training.services.registry), so what a page calls "not learned" is exactly what the gate refuses.

Not learned when any of these holds:
- its designs overlap their references less than LEARNED_MARGIN ink IoU better than a random training
  design would;
- its balanced IoU (ink and paper alike, core.svg.compare) is not above a random training design's: ink
  IoU alone flatters blobs, a filled canvas covers every reference's ink;
- its pixel L2 is not below drawing nothing's;
- it cannot redraw its own training designs (training-prompt IoU under TRAIN_IOU_LEARNED).
A figure the version lacks (older evaluations have no `biou`) is not held against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEARNED = "learned"
NOT_LEARNED = "not learned"
NO_FIGURES = "no figures"

LEARNED_MARGIN = 0.10  # ink IoU over a random training design below which the model has not learned the set
TRAIN_IOU_LEARNED = 0.5


@dataclass(frozen=True)
class Verdict:
    state: str  # LEARNED, NOT_LEARNED or NO_FIGURES
    sentence: str  # one plain paragraph for a page or a refusal
    reasons: list[str] = field(default_factory=list)  # why not learned, one clause each

    @property
    def learned(self) -> bool:
        return self.state == LEARNED

    @property
    def not_learned(self) -> bool:
        return self.state == NOT_LEARNED


def _f(value: Any) -> str:
    return f"{float(value):.3f}"


def _num(metrics: dict[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def learning_verdict(metrics: dict[str, Any]) -> Verdict:
    """The verdict on a version's (or an evaluation's) metrics."""
    iou, rand = _num(metrics, "iou"), _num(metrics, "random_iou")
    if iou is None or rand is None:
        return Verdict(NO_FIGURES, "No real-data figures.")
    biou, rand_biou = _num(metrics, "biou"), _num(metrics, "random_biou")
    l2, blank_l2 = _num(metrics, "l2"), _num(metrics, "blank_l2")
    retrieval, train = _num(metrics, "retrieval_iou"), _num(metrics, "train_iou")
    reasons = []
    if iou - rand < LEARNED_MARGIN:
        reasons.append(
            f"its designs overlap their references less than {LEARNED_MARGIN:.2f} IoU better than a random "
            f"training design would ({_f(iou)} against {_f(rand)})"
        )
    if biou is not None and rand_biou is not None and biou <= rand_biou:
        reasons.append(
            f"its balanced IoU (ink and paper) is not above a random training design's ({_f(biou)} against "
            f"{_f(rand_biou)})"
        )
    if l2 is not None and blank_l2 is not None and l2 >= blank_l2:
        reasons.append(f"its pixel L2 is not below drawing nothing's ({l2:.4f} against {blank_l2:.4f})")
    if train is not None and train < TRAIN_IOU_LEARNED:
        reasons.append(f"it cannot redraw its own training designs (IoU {_f(train)} on training prompts)")
    if reasons:
        parts = ["Not learned: " + "; ".join(reasons) + "."]
    else:
        gains = f"IoU {_f(iou)} against {_f(rand)}"
        if biou is not None and rand_biou is not None:
            gains += f", balanced IoU {_f(biou)} against {_f(rand_biou)}"
        parts = [f"Draws better than a random training design: {gains}."]
    if retrieval is not None:
        parts.append(
            f"{'At or above' if iou >= retrieval else 'Below'} the nearest-name retrieval baseline ({_f(retrieval)})."
        )
    return Verdict(NOT_LEARNED if reasons else LEARNED, " ".join(parts), reasons)
