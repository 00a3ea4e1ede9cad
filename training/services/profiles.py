"""A snapshot's profile: what training reads off it before it starts (slm.recipe), kept on the row.

Snapshots are immutable, so the profile is computed once: by the export job right after freezing, or on
first use for snapshots frozen before profiles existed.
"""

from __future__ import annotations

from typing import Any

from slm.recipe import Recipe, data_profile, derive, profile_examples
from training.models import Dataset, DatasetItem
from training.selectors import dataset_examples


def dataset_profile(*, dataset: Dataset, refresh: bool = False) -> dict[str, Any]:
    """The snapshot's profile (its training split), computed and stored when missing."""
    if dataset.profile and not refresh:
        return dataset.profile
    profile = profile_examples(dataset_examples(dataset=dataset, split=DatasetItem.Split.TRAIN))
    Dataset.objects.filter(pk=dataset.pk).update(profile=profile)
    dataset.profile = profile
    return profile


def dataset_recipe(*, dataset: Dataset, budget_seconds: float | None = None) -> Recipe:
    """The default hyperparameters for training on this snapshot, with their reasons."""
    return derive(data_profile(dataset_profile(dataset=dataset)), budget_seconds=budget_seconds)
