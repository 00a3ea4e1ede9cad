"""Point and number tokens start with embeddings that know where they are (slm.coordinates)."""

from __future__ import annotations

import torch

from slm.coordinates import coordinate_rows, init_coordinate_embeddings
from slm.form.spec import form_units, opening_units
from slm.model import ModelConfig, build_model
from slm.tokenizer import train_tokenizer


def _tokenizer():  # type: ignore[no-untyped-def]
    points = [f"{x},{y}" for x in range(0, 49, 2) for y in range(0, 49, 2)]
    units = [*form_units(48), *points]
    return train_tokenizer(["a dot icon"] * 4, vocab_size=300, units=units, openers=opening_units(units))


def _cos(a: list[float], b: list[float]) -> float:
    return float(torch.nn.functional.cosine_similarity(torch.tensor(a), torch.tensor(b), dim=0))


def test_near_points_start_close_and_far_ones_do_not() -> None:
    tok = _tokenizer()
    rows = coordinate_rows(tok, 48, 128)
    vocab = tok.get_vocab()
    point = rows[vocab[" 10,12"]]
    near = _cos(point, rows[vocab[" 12,12"]])
    far = _cos(point, rows[vocab[" 40,40"]])
    assert near > 0.5 and abs(far) < 0.3, (near, far)
    assert _cos(rows[vocab[" 20"]], rows[vocab[" 21"]]) > 0.5
    assert vocab["<path"] not in rows and vocab["fill:none"] not in rows  # only numbers and points


def test_the_model_gets_the_rows_at_its_own_scale_and_nothing_else_changes() -> None:
    tok = _tokenizer()
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_positions=64), tok)
    before = model.get_input_embeddings().weight.detach().clone()
    count = init_coordinate_embeddings(model, tok, 48)
    after = model.get_input_embeddings().weight.detach()
    changed = (before != after).any(dim=1)
    vocab = tok.get_vocab()
    assert count == int(changed.sum()) and changed[vocab[" 10,12"]] and not changed[vocab["<path"]]
    assert abs(float(after[changed].std()) - float(before[~changed].std())) < 0.005  # same scale
    assert model.get_output_embeddings().weight.data_ptr() == after.data_ptr()  # still tied


def test_a_new_model_form_run_starts_on_the_grid_unless_told_not_to() -> None:
    from slm.form.spec import FormSpec
    from slm.train.config import TrainConfig, TrainExample
    from slm.train.setup import model_and_tokenizer

    form = FormSpec(grid=48, view=24.0)
    points = {f"{x},{y}" for x in range(0, 49, 2) for y in range(0, 49, 2)}
    sample = [TrainExample("a dot icon", "<circle 10,12 4")] * 4

    def neighbours(coordinate_init: bool) -> float:
        config = TrainConfig(
            model=ModelConfig(n_positions=64), vocab_size=300, coordinate_init=coordinate_init
        )
        model, tok = model_and_tokenizer(config, sample, lambda: points, form, None, None)
        rows, vocab = model.get_input_embeddings().weight.detach(), tok.get_vocab()
        return _cos(rows[vocab[" 10,12"]].tolist(), rows[vocab[" 12,12"]].tolist())

    assert neighbours(True) > 0.5
    assert abs(neighbours(False)) < 0.3  # a random start: neighbours unrelated
