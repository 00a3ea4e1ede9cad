"""Decoding through CTranslate2: the same tokens as transformers in float32, seeded sampling, int8, and
the transformers fallback (with its reason) for a model CTranslate2 cannot serve."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from slm.decode.ct2 import FAILED, ConversionError, convert, failure_reason, is_converted
from slm.decode.sampling import NOT_CONVERTED, DecodeRequest, Generator
from slm.synthetic import generate_corpus
from slm.tokenizer import build_prefix_ids
from tests.ml.conftest import Trained
from tests.shared_fixtures import TINY_MODEL

PROMPTS = [e.prompt for e in generate_corpus(10, seed=2468)]


@pytest.fixture(scope="module")
def model_dir(trained_model: Trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert trained_model.result.final_dir is not None
    copy = tmp_path_factory.mktemp("ct2") / "model"
    shutil.copytree(trained_model.result.final_dir, copy, ignore=shutil.ignore_patterns("ct2*"))
    convert(copy)  # as registration does
    return copy


@pytest.mark.slow
def test_loading_never_converts_a_model_it_decodes_through_transformers_and_says_why(
    model_dir: Path, tmp_path: Path
) -> None:
    """What a decode process loads for a request: no conversion there (it belongs to registration and
    alias moves), the transformers fallback with the reason instead."""
    fresh = tmp_path / "fresh"
    shutil.copytree(model_dir, fresh, ignore=shutil.ignore_patterns("ct2*"))
    gen = Generator(fresh, num_threads=1)
    assert gen.engine == "transformers" and gen.fallback_reason == NOT_CONVERTED
    assert not is_converted(fresh) and not (fresh / FAILED).exists()
    [[sample]] = gen.generate(PROMPTS[:1], max_new_tokens=20)
    assert sample.tokens > 0


def _transformers_greedy_ids(gen: Generator, prompt: str, budget: int) -> tuple[list[int], bool]:
    """transformers' own model.generate: greedy, on the same weights."""
    import torch

    prefix = build_prefix_ids(gen.tokenizer, [prompt])[0]
    ids = torch.tensor([prefix])
    with torch.inference_mode():
        out = gen.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=budget,
            eos_token_id=gen.eos_id,
            pad_token_id=gen.pad_id,
        )
    new = out[0, len(prefix) :].tolist()
    finished = gen.eos_id in new
    return (new[: new.index(gen.eos_id)] if finished else new), finished


@pytest.mark.slow
def test_float32_greedy_is_token_identical_to_transformers(model_dir: Path) -> None:
    gen = Generator(model_dir, num_threads=1)
    assert gen.engine == "ctranslate2" and gen.compute_type == "float32" and gen.fallback_reason is None
    assert is_converted(model_dir) and (model_dir / "ct2" / "conversion.json").is_file()
    batch = gen.ct2
    assert batch is not None
    for budget in (5, 160):
        from slm.decode.ct2 import Ct2Job

        prefixes = build_prefix_ids(gen.tokenizer, PROMPTS)
        together = batch.decode([Ct2Job(p, budget, 1) for p in prefixes])  # one batch call for all
        for prompt, prefix, [got] in zip(PROMPTS, prefixes, together, strict=True):
            expected = _transformers_greedy_ids(gen, prompt, budget)
            assert got == expected
            assert batch.decode([Ct2Job(prefix, budget, 1)]) == [[expected]]  # alone: the same


@pytest.mark.slow
def test_seeded_sampling_is_reproducible_and_independent_of_the_batch(model_dir: Path) -> None:
    gen = Generator(model_dir, num_threads=1)
    request = DecodeRequest(PROMPTS[0], n=4, seed=99, temperature=1.0, max_new_tokens=60)
    first = [s.text for s in gen.decode_all([request])[0]]
    again = [s.text for s in gen.decode_all([request])[0]]
    with_others = gen.decode_all(
        [DecodeRequest(PROMPTS[1]), request, DecodeRequest(PROMPTS[2], n=2, seed=1, temperature=0.7)]
    )
    assert first == again == [s.text for s in with_others[1]]
    other_seed = gen.decode_all(
        [DecodeRequest(PROMPTS[0], n=4, seed=100, temperature=1.0, max_new_tokens=60)]
    )
    assert [s.text for s in other_seed[0]] != first
    assert all(s.tokens <= 60 for s in with_others[1])


@pytest.mark.slow
def test_int8_is_a_compute_type_of_the_same_conversion(model_dir: Path) -> None:
    gen = Generator(model_dir, num_threads=1, compute_type="int8")
    assert gen.engine == "ctranslate2" and gen.compute_type == "int8"
    [[sample]] = gen.generate(PROMPTS[:1], max_new_tokens=160)
    assert sample.tokens > 0
    with pytest.raises(ValueError):
        Generator(model_dir, compute_type="int4")


@pytest.fixture
def unconvertible(model_dir: Path, tmp_path: Path) -> Path:
    """A GPT-2 whose attention is scaled per layer: transformers computes it, CTranslate2's converter
    does not (it would silently serve another function, so the conversion check refuses it)."""
    target = tmp_path / "scaled"
    shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("ct2*"))
    config = json.loads((target / "config.json").read_text())
    config["scale_attn_by_inverse_layer_idx"] = True
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.mark.slow
def test_a_model_that_fails_to_convert_serves_through_transformers_and_says_why(
    unconvertible: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConversionError):
        convert(unconvertible)  # what registration tries
    with caplog.at_level("WARNING", logger="slm.decode.sampling"):
        gen = Generator(unconvertible, num_threads=1)
    assert gen.engine == "transformers"
    assert gen.fallback_reason and "logits differ" in gen.fallback_reason
    assert "decodes through transformers" in caplog.text and gen.fallback_reason in caplog.text
    assert not is_converted(unconvertible)
    assert failure_reason(unconvertible) == gen.fallback_reason  # remembered beside the weights
    [[sample]] = gen.generate(PROMPTS[:1], max_new_tokens=40)
    assert sample.tokens > 0
    with pytest.raises(ConversionError):
        convert(unconvertible)  # not tried again with the same CTranslate2
    (unconvertible / FAILED).write_text(json.dumps({"reason": "old", "ctranslate2": "0.0"}))
    assert failure_reason(unconvertible) is None  # another CTranslate2 version tries again


@pytest.mark.slow
def test_a_lora_adapter_converts_merged_into_its_base(tmp_path: Path) -> None:
    """An adapter folder (PEFT LoRA, its base named in adapter_config.json) decodes through CTranslate2
    with the adapter merged, token for token as transformers decodes base + adapter."""
    from peft import LoraConfig, get_peft_model

    from slm.model import build_model
    from slm.tokenizer import save_tokenizer, train_tokenizer

    texts = [t for e in generate_corpus(200, seed=0) for t in (e.prompt, e.svg)]
    tokenizer = train_tokenizer(texts, vocab_size=300)
    base = build_model(replace(TINY_MODEL, n_layer=2, n_positions=96), tokenizer)
    base.save_pretrained(str(tmp_path / "base"))
    adapted = get_peft_model(base, LoraConfig(r=4, target_modules=["c_attn"], init_lora_weights=False))
    adapted.save_pretrained(str(tmp_path / "adapter"))
    save_tokenizer(tokenizer, tmp_path / "adapter")
    config_path = tmp_path / "adapter" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(tmp_path / "base")
    config_path.write_text(json.dumps(config))

    convert(tmp_path / "adapter")
    gen = Generator(tmp_path / "adapter", num_threads=1)
    assert gen.engine == "ctranslate2", gen.fallback_reason
    assert json.loads((tmp_path / "adapter" / "ct2" / "conversion.json").read_text())["adapter_merged"]
    hf = Generator(tmp_path / "adapter", num_threads=1, engine="transformers")
    prompts = PROMPTS[:3]
    assert [(s.text, s.tokens) for [s] in gen.generate(prompts, max_new_tokens=30)] == [
        (s.text, s.tokens) for [s] in hf.generate(prompts, max_new_tokens=30)
    ]
