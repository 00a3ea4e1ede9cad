"""Pretrained base models (slm.base): the checks before import, and fine-tuning one fully or with
LoRA on the model form, with its own tokenizer. The base is a tiny random model the test saves itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm.base import check_base_model
from slm.base_errors import BaseModelError
from slm.base_lora import lora_targets_check, lora_wrap
from slm.decode.sampling import DecodeRequest, Generator, read_form
from slm.form.spec import FormSpec
from slm.model import load_model
from slm.tokenizer import SEP, SPECIAL_TOKENS, load_tokenizer
from slm.train.config import as_example
from slm.train.data import to_forms
from slm.train.loop import train
from tests.base_model import make_tiny_base
from tests.shared_fixtures import tiny_config

FORM = FormSpec(grid=24, view=24.0)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return make_tiny_base(tmp_path_factory.mktemp("base") / "tiny-llama", "llama")


@pytest.fixture(scope="module")
def form_examples(corpus):
    converted, _ = to_forms([as_example(e) for e in corpus[:220]], FORM)
    return converted


def _copy(base: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(base, tmp_path / "copy"))


def test_a_complete_folder_passes_with_every_file_hashed(base: Path) -> None:
    check = check_base_model(base)
    assert check.architecture == "llama" and check.parameters > 10_000 and check.vocab_size == 400
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(check.files)
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in check.files.values())
    assert check.lora_targets() == ("q_proj", "k_proj", "v_proj", "o_proj")


def test_a_folder_without_weights_is_refused(base: Path, tmp_path: Path) -> None:
    folder = _copy(base, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(BaseModelError, match="The folder has no weights: neither model.safetensors"):
        check_base_model(folder)


def test_torn_weights_are_refused(base: Path, tmp_path: Path) -> None:
    folder = _copy(base, tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BaseModelError, match="The weights do not load"):
        check_base_model(folder)


def test_a_tokenizer_that_does_not_load_is_refused(base: Path, tmp_path: Path) -> None:
    folder = _copy(base, tmp_path)
    (folder / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "nonsense"}}')
    with pytest.raises(BaseModelError, match="The tokenizer does not load"):
        check_base_model(folder)


def test_an_architecture_transformers_does_not_know_is_refused(base: Path, tmp_path: Path) -> None:
    folder = _copy(base, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "atelier-nonesuch"}))
    with pytest.raises(BaseModelError, match="The architecture 'atelier-nonesuch' is not one transformers"):
        check_base_model(folder)


def test_a_lora_target_that_does_not_exist_is_refused(base: Path) -> None:
    with pytest.raises(BaseModelError, match=r"LoRA target\(s\) qkv_nope do not exist in a llama model"):
        lora_targets_check("llama", ["q_proj", "qkv_nope"])
    with pytest.raises(BaseModelError, match="its linear layers are: down_proj, gate_proj, k_proj"):
        lora_wrap(load_model(base), 4, 8, ["qkv_nope"], [])


def test_lora_fine_tune_trains_adapters_and_new_tokens_and_registers_merged_weights(
    base: Path, form_examples, tmp_path: Path
) -> None:
    config = tiny_config(finetune="lora", lora_rank=4, lora_alpha=8, svg_form=FORM.as_dict(), max_steps=6)
    config.checkpoint_every = 3
    result = train(config, form_examples[:180], form_examples[180:], tmp_path, init_from=base)
    assert result.status == "completed" and result.steps == 6
    final = result.final_dir
    assert not (final / "adapter_config.json").exists()  # merged: a plain transformers model
    tokenizer = load_tokenizer(final)
    assert all(t in tokenizer.get_vocab() for t in SPECIAL_TOKENS) and tokenizer.sep_token == SEP
    before, after = load_model(base).state_dict(), load_model(final).state_dict()
    mlp = "model.layers.0.mlp.up_proj.weight"
    assert (before[mlp] == after[mlp]).all()  # not a LoRA target: frozen
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not (before[q] == after[q]).all()  # adapters merged in
    assert after["model.embed_tokens.weight"].shape[0] == len(tokenizer) == 405
    assert read_form(final) == FORM
    samples = Generator(final).decode_all([DecodeRequest("a red circle", max_new_tokens=12)])
    assert samples[0][0].tokens > 0 and samples[0][0].text.startswith("<svg")


def test_lora_resumes_from_its_adapter_checkpoint(base: Path, form_examples, tmp_path: Path) -> None:
    config = tiny_config(finetune="lora", svg_form=FORM.as_dict(), max_steps=4, checkpoint_every=4)
    train(config, form_examples[:180], [], tmp_path, init_from=base)
    config.max_steps = 8
    result = train(config, form_examples[:180], [], tmp_path, init_from=base)
    assert result.resumed_from_step == 4 and result.steps == 8 and result.final_dir is not None


def test_full_fine_tune_of_a_gpt2_base_uses_its_tokenizer(form_examples, tmp_path: Path) -> None:
    base = make_tiny_base(tmp_path / "tiny-gpt2", "gpt2")
    config = tiny_config(svg_form=FORM.as_dict(), max_steps=4)
    result = train(config, form_examples[:180], [], tmp_path / "run", init_from=base)
    tokenizer = load_tokenizer(result.final_dir)
    assert tokenizer.convert_tokens_to_ids("<s>") == 0  # the base's own vocabulary, ours added after it
    assert tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS[0]) >= 400
    before, after = load_model(base).state_dict(), load_model(result.final_dir).state_dict()
    assert not (before["transformer.h.0.mlp.c_fc.weight"] == after["transformer.h.0.mlp.c_fc.weight"]).all()


def test_lora_under_two_processes(base: Path, form_examples, tmp_path: Path) -> None:
    from slm.train.launch import launch

    config = tiny_config(finetune="lora", svg_form=FORM.as_dict(), max_steps=4, checkpoint_every=2)
    result = launch(config, form_examples[:180], form_examples[180:], tmp_path, processes=2, init_from=base)
    assert result.status == "completed" and result.steps == 4
    assert (result.final_dir / "model.safetensors").is_file()
