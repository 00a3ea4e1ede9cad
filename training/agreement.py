"""Agreement between reviewers, from the maintained libraries: Cohen's kappa per reviewer pair
(scikit-learn's cohen_kappa_score) and Krippendorff's alpha per queue (the `krippendorff` package,
nominal verdicts, missing values allowed). Pure: a list of (item, rater, label) in, figures out."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from itertools import combinations

LABELS = ("accept", "reject", "needs_changes")


@dataclass(frozen=True)
class PairAgreement:
    a: Hashable
    b: Hashable
    shared: int  # items both reviewed
    kappa: float | None  # None: fewer than two shared items, or no variation at all


def _ratings(votes: Iterable[tuple[Hashable, Hashable, str]]) -> dict[Hashable, dict[Hashable, str]]:
    by_rater: dict[Hashable, dict[Hashable, str]] = {}
    for item, rater, label in votes:
        by_rater.setdefault(rater, {})[item] = label
    return by_rater


def cohen_pairs(votes: Iterable[tuple[Hashable, Hashable, str]]) -> list[PairAgreement]:
    from sklearn.metrics import cohen_kappa_score

    by_rater = _ratings(votes)
    out = []
    for a, b in combinations(sorted(by_rater, key=str), 2):
        shared = sorted(set(by_rater[a]) & set(by_rater[b]), key=str)
        kappa = None
        if len(shared) >= 2:
            value = cohen_kappa_score(
                [by_rater[a][i] for i in shared], [by_rater[b][i] for i in shared], labels=list(LABELS)
            )
            kappa = None if math.isnan(value) else float(value)
        out.append(PairAgreement(a, b, len(shared), kappa))
    return out


def krippendorff_alpha(votes: Iterable[tuple[Hashable, Hashable, str]]) -> float | None:
    """Nominal alpha over every rater and item (a missing vote is NaN); None when it is undefined."""
    import krippendorff
    import numpy as np

    by_rater = _ratings(votes)
    items = sorted({i for ratings in by_rater.values() for i in ratings}, key=str)
    if len(by_rater) < 2 or len(items) < 1:
        return None
    code = {label: n for n, label in enumerate(LABELS)}
    data = np.full((len(by_rater), len(items)), np.nan)
    for r, rater in enumerate(sorted(by_rater, key=str)):
        for c, item in enumerate(items):
            if item in by_rater[rater]:
                data[r, c] = code[by_rater[rater][item]]
    try:
        value = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    except ValueError:  # one value in the whole table, or no item with two votes: alpha is undefined
        return None
    return None if math.isnan(value) else float(value)
