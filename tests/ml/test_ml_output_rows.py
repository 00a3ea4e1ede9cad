"""A model-form model's loss and decoders use only the output rows a design can write (slm.output_rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from slm.decode.ct2 import convert
from slm.form.spec import FormSpec
from slm.model import ModelConfig, load_model
from slm.output_rows import output_rows, suppressed_ids
from slm.train.config import TrainConfig, TrainExample
from slm.train.data import IGNORE
from slm.train.loss import lm_loss
from slm.train.setup import model_and_tokenizer

FORM = FormSpec(grid=48, view=24.0)
POINTS = {f"{x},{y}" for x in range(0, 49, 2) for y in range(0, 49, 2)}
SAMPLE = [
    TrainExample("a dot icon with tags: circle, round", "<circle 10,12 4"),
    TrainExample("a small square; categories: shapes", "<path M 4,4 H 20 V 20 H 4 Z"),
] * 4


def _new(**overrides: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = TrainConfig(model=ModelConfig(n_positions=64), vocab_size=300, **overrides)  # type: ignore[arg-type]
    return model_and_tokenizer(config, SAMPLE, lambda: POINTS, FORM, None, None)


def test_prompt_pieces_are_never_rows_and_every_design_token_is() -> None:
    model, tok = _new()
    suppressed = set(suppressed_ids(model))
    vocab = tok.get_vocab()
    assert vocab[" circle"] in suppressed or vocab["circle"] in suppressed  # a prompt word
    assert vocab[" 10,12"] not in suppressed and vocab["<circle"] not in suppressed
    assert tok.eos_token_id not in suppressed
    for e in SAMPLE:  # what the loss targets: the design's tokens and the end marker
        ids = tok(e.svg, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert not suppressed & set(ids), e.svg
    assert {vocab[c] for c in "aqz;:,"} <= suppressed  # the fallback alphabet: prompt text too


def test_the_flag_keeps_every_row() -> None:
    model, _ = _new(target_rows_only=False)
    assert suppressed_ids(model) == [] and output_rows(model) is None


def test_the_loss_is_the_cross_entropy_over_the_target_rows_only() -> None:
    model, tok = _new()
    torch.manual_seed(0)
    ids = torch.randint(0, len(tok), (3, 12))
    labels = ids.clone()
    labels[:, :5] = IGNORE
    rows = output_rows(model)
    assert rows is not None
    labels[:, 5:] = rows.ids[torch.randint(0, len(rows.ids), (3, 7))]  # targets a design can have
    with torch.no_grad():
        got = lm_loss(model, ids, labels)
        logits = model(input_ids=ids).logits[:, :-1]
        keep = labels[:, 1:] != IGNORE
        restricted = logits[keep][:, rows.ids]
        want = torch.nn.functional.cross_entropy(restricted, rows.position[labels[:, 1:][keep]])
        everything = torch.nn.functional.cross_entropy(logits[keep], labels[:, 1:][keep])
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(got, everything, atol=1e-3)  # the other rows' mass no longer counts


@pytest.fixture(scope="module")
def biased_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A saved form model whose favourite next token, for every input, is a suppressed prompt piece."""
    model, tok = _new()
    suppressed = suppressed_ids(model)
    favourite = tok.get_vocab()[" icon"]  # a prompt word
    assert favourite in suppressed
    head = model.get_output_embeddings().weight
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(5.0)  # every last hidden state is the same, all +5 ...
        head[favourite] = 10.0  # ... so this row wins wherever it may be picked
        head[tok.eos_token_id] = -10.0  # and the end marker never does: designs get written
    out = tmp_path_factory.mktemp("biased")
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    (out / "manifest.json").write_text(json.dumps({"config": {"svg_form": FORM.as_dict()}}))
    convert(out)  # as registration does: the logit check passes over the trained rows
    return out, favourite


def test_unmasked_the_suppressed_row_would_win(biased_model: tuple[Path, int]) -> None:
    path, favourite = biased_model
    model = load_model(path).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 5, 6, 3]])).logits[0, -1]
    assert int(logits.argmax()) == favourite
    assert suppressed_ids(model)  # the list travelled with the saved model


@pytest.mark.parametrize("engine", ["transformers", "ctranslate2"])
def test_no_decoder_writes_a_suppressed_row(biased_model: tuple[Path, int], engine: str) -> None:
    from slm.decode.sampling import Generator

    path, favourite = biased_model
    gen = Generator(path, engine=engine, num_threads=1)
    assert gen.engine == engine, gen.fallback_reason
    for temperature in (0.0, 1.0):
        [samples] = gen.generate(["a dot icon"], n=4, seed=1, temperature=temperature, max_new_tokens=12)
        for s in samples:
            assert s.tokens == 12 and "icon" not in (s.form or ""), (engine, s.form)
