"""Hyperparameters are defined once (training.params): the training code's defaults, the admin form
and the validation of a run's parameters all come from that one definition."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest
from django.core.exceptions import ValidationError

from slm.model import ModelConfig
from slm.train.config import TrainConfig
from training.forms import TrainForm
from training.params import TrainingParams, _param, _slm_defaults


def test_defaults_are_the_training_codes_own():
    config = TrainingParams().train_config()
    defaults, model = TrainConfig(), ModelConfig()
    for name in ("batch_size", "learning_rate", "warmup_steps", "seed", "checkpoint_every"):
        assert getattr(config, name) == getattr(defaults, name), name
    assert config.budget_seconds == defaults.budget_seconds and config.max_steps == defaults.max_steps
    assert config.model == model


def test_the_form_is_built_from_the_definition():
    form = TrainForm()
    for f in TrainingParams.fields():
        if not f.metadata["form"]:
            assert f.name not in form.fields
            continue
        field = form.fields[f.name]
        assert field.initial == f.default, f.name
        lo, hi = f.metadata["range"]
        if lo is not None:
            assert (field.min_value, field.max_value) == (lo, hi), f.name
    bound = TrainForm({**{n: form.fields[n].initial for n in TrainForm.PARAM_FIELDS}, "model_name": "m"})
    assert bound.is_valid(), bound.errors
    assert TrainingParams.from_dict(bound.params()) == TrainingParams()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"arch": "rnn"}, "arch"),
        ({"n_embd": 30, "n_head": 4}, "n_head"),
        ({"budget_seconds": 0, "max_steps": 0}, "budget_seconds"),
        ({"dropout_rate": 0.1}, "training_params"),
        ({"select_by": "vibes"}, "select_by"),
        ({"dropout": 2.0}, "dropout"),
    ],
)
def test_bad_parameters_are_field_errors(data, field):
    with pytest.raises(ValidationError) as err:
        TrainingParams.from_dict(data)
    assert field in err.value.message_dict


def test_the_form_shows_the_recipe_it_is_given():
    form = TrainForm(recipe={"n_layer": 6, "select_by": "val_iou", "prompt_variants": 3})
    assert (form.fields["n_layer"].initial, form.fields["select_by"].initial) == (6, "val_iou")
    assert form.fields["prompt_variants"].initial == 3


RUN_OWN = {"grid", "processes", "max_restarts"}  # the run's, not slm's configs'


def test_each_parameter_reaches_the_slm_config_field_of_its_name():
    train_names = {f.name for f in fields(TrainConfig)}
    model_names = {f.name for f in fields(ModelConfig)}
    changed = TrainingParams(
        batch_size=7,
        learning_rate=0.5,
        n_layer=3,
        dropout=0.25,
        num_threads=2,
        lora_rank=5,
        consensus=4,
    ).train_config()
    for f in fields(TrainingParams):
        assert f.name in train_names | model_names | RUN_OWN, f.name
    assert (changed.batch_size, changed.learning_rate, changed.num_threads) == (7, 0.5, 2)
    assert (changed.model.n_layer, changed.model.dropout, changed.lora_rank, changed.consensus) == (
        3,
        0.25,
        5,
        4,
    )
    assert TrainingParams(lora_targets=" c_attn, c_proj ").train_config().lora_targets == ["c_attn", "c_proj"]


def test_a_parameter_added_once_takes_slms_default_and_reaches_its_config():
    # Named once, in a TrainingParams field: its default is TrainConfig's, train_config() passes it on.
    @dataclass(frozen=True)
    @_slm_defaults
    class Wider(TrainingParams):
        eval_batch_size: int = _param(1, 1024)

    assert Wider().eval_batch_size == TrainConfig().eval_batch_size
    assert Wider(eval_batch_size=8).train_config().eval_batch_size == 8
    with pytest.raises(TypeError, match="neither TrainConfig nor ModelConfig"):

        @_slm_defaults
        class Typo(TrainingParams):
            eval_batchsize: int = _param(1, 1024)
