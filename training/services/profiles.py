"""A snapshot's profile: what training reads off it before it starts (slm.recipe), kept on the row.

Snapshots are immutable, so the profile is computed once: by the export job right after freezing, or on
first use for snapshots frozen before profiles existed.
"""

from __future__ import annotations

import statistics
from typing import Any

from core.jobs.models import JobStatus
from slm.learnable import BudgetEstimate, estimate_budget, shape_tokens_per_second
from slm.recipe import PROFILE_SAMPLE, Recipe, data_profile, derive, profile_examples
from slm.train.config import TrainExample
from training.models import Dataset, DatasetItem, TrainingRun
from training.selectors import dataset_examples

MEASURED_RUNS = 5  # newest finished runs of a model shape whose throughput the estimate takes


def dataset_profile(*, dataset: Dataset, refresh: bool = False) -> dict[str, Any]:
    """The snapshot's profile (its training split), computed and stored when missing."""
    if dataset.profile and not refresh:
        return dataset.profile
    profile = _train_profile(dataset)
    Dataset.objects.filter(pk=dataset.pk).update(profile=profile)
    dataset.profile = profile
    return profile


def _train_profile(dataset: Dataset) -> dict[str, Any]:
    """profile_examples on the training split, streamed: the evenly spread sample it reads, picked from a
    server-side cursor (the same examples as from the whole list; memory follows the sample, not the set)."""
    items = dataset.items.filter(split=DatasetItem.Split.TRAIN).order_by("content_hash")
    total = items.count()
    if total <= PROFILE_SAMPLE:
        return profile_examples(dataset_examples(dataset=dataset, split=DatasetItem.Split.TRAIN))
    step = total / PROFILE_SAMPLE
    wanted = {int(i * step) for i in range(PROFILE_SAMPLE)}
    rows = items.values_list("prompt", "svg_content", "context").iterator(chunk_size=2000)
    picked = [TrainExample(p, s, c or None) for i, (p, s, c) in enumerate(rows) if i in wanted]
    return {**profile_examples(picked), "train_examples": total}


def dataset_recipe(*, dataset: Dataset, budget_seconds: float | None = None) -> Recipe:
    """The default hyperparameters for training on this snapshot, with their reasons."""
    return derive(data_profile(dataset_profile(dataset=dataset)), budget_seconds=budget_seconds)


def dataset_budget_estimate(*, dataset: Dataset, budget_seconds: float | None = None) -> BudgetEstimate:
    """Can this snapshot be learned in `budget_seconds`? (slm.learnable: from its profile alone), with the
    throughput measured here: the median of the newest finished runs of the model shape its recipe
    picks, else the recipe's figure for that shape."""
    profile = data_profile(dataset_profile(dataset=dataset))
    n_layer, n_embd, _ = shape_tokens_per_second(profile)
    rates = list(
        TrainingRun.objects.filter(
            status=JobStatus.COMPLETED,
            tokens_per_second__gt=0,
            training_params__n_layer=n_layer,
            training_params__n_embd=n_embd,
        )
        .order_by("-finished_at")
        .values_list("tokens_per_second", flat=True)[:MEASURED_RUNS]
    )
    measured = statistics.median(rates) if rates else None
    return estimate_budget(
        profile,
        budget_seconds=budget_seconds,
        tokens_per_second=measured,
        throughput_source=f"the median of the last {len(rates)} finished run(s) of this model size here",
    )
