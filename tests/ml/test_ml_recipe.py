"""The default recipe, derived from what a snapshot holds."""

from __future__ import annotations

from slm.recipe import CONTEXT_CAP, DataProfile, derive, profile_examples
from slm.train.config import TrainExample

ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="{x}" cy="12" r="4"/></svg>'


def test_a_small_icon_set_gets_a_regularised_memorising_recipe() -> None:
    r = derive(DataProfile(1600, 75.0, 205, clause_prompts=True, form={"kind": "model-form", "grid": 96}))
    v = r.values
    assert (v["n_layer"], v["n_embd"]) == (4, 128) and v["n_positions"] == 224
    assert (v["dropout"], v["weight_decay"], v["prompt_variants"], v["select_by"]) == (0.1, 0.1, 3, "last")
    assert v["consensus"] == 32
    assert 300 <= v["budget_seconds"] <= 4 * 3600 and len(r.reasons) >= 5


def test_a_large_corpus_gets_a_bigger_model_and_no_dropout() -> None:
    v = derive(DataProfile(200_000, 120.0, 3000, clause_prompts=False, form=None), budget_seconds=900).values
    assert v["n_layer"] > 4 and v["dropout"] == 0.0 and v["prompt_variants"] == 1
    assert v["select_by"] == "val_loss" and v["budget_seconds"] == 900 and v["n_positions"] == CONTEXT_CAP
    assert v["consensus"] == 0


def test_profile_reads_grid_lengths_and_failures() -> None:
    examples = [TrainExample(f"dot {i} icon; tags: round", ICON.format(x=i + 4)) for i in range(10)]
    examples.append(
        TrainExample(
            "word icon", '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><text>A</text></svg>'
        )
    )
    p = profile_examples(examples)
    assert p["form"]["grid"] == 24 and p["train_examples"] == 11 and p["unconvertible"] == 1
    assert p["unconvertible_examples"][0]["reason"] == "text is not supported"
    assert p["max_tokens"] >= p["mean_tokens"] > 5 and p["clause_prompts"] is True


def test_a_budget_too_short_to_learn_a_set_by_heart_is_not_regularised() -> None:
    """The same small set: a budget of many passes regularises it, one of few passes does not (dropout
    only slows a model that cannot learn the set by heart anyway)."""
    profile = DataProfile(6500, 75.0, 400, clause_prompts=True, form={"kind": "model-form", "grid": 48})
    short = derive(profile, budget_seconds=600)
    long = derive(profile, budget_seconds=4 * 3600)
    assert (short.values["dropout"], short.values["weight_decay"]) == (0.0, 0.01)
    assert (long.values["dropout"], long.values["weight_decay"]) == (0.1, 0.1)
    assert any("too few to learn it by heart" in reason for reason in short.reasons)
