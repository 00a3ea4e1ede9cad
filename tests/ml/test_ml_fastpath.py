"""The lean GPT-2 forward gives transformers' logits, and the decode loop the same samples with it."""

from __future__ import annotations

import pytest
import torch

from tests.ml.conftest import Trained
from training.ml.fastpath import lean_forward, supports
from training.ml.sampling import DecodeRequest, Generator
from training.ml.synthetic import generate_corpus

PROMPTS = [e.prompt for e in generate_corpus(5, seed=4321)]


def _gpt2(**overrides: object) -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=97, n_positions=64, n_embd=32, n_layer=2, n_head=4, **overrides)
    return GPT2LMHeadModel(cfg).eval()


def _padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


@pytest.mark.parametrize("activation", ["gelu_pytorch_tanh", "gelu_new"])
def test_lean_logits_equal_transformers_with_padding_and_cache(activation: str) -> None:
    from transformers import DynamicCache

    model = _gpt2(activation_function=activation)
    lean = lean_forward(model)
    assert lean is not None
    ids, mask, pos = _padded([[5, 9, 11, 3, 7], [4, 8], [1, 2, 3]])  # left padding in two rows
    theirs, ours = DynamicCache(), lean.new_cache()
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=theirs).logits[:, -1].float()
        got = lean.forward(ids, mask, pos, ours)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
        last = pos[:, -1:]
        for _ in range(6):  # decode steps on the cache
            nxt = ref.argmax(-1)[:, None]
            past = mask.shape[1]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            last = last + 1
            ref = (
                model(
                    input_ids=nxt,
                    attention_mask=mask,
                    position_ids=last,
                    cache=theirs,
                    cache_position=torch.tensor([past]),
                )
                .logits[:, -1]
                .float()
            )
            got = lean.forward(nxt, mask, last, ours)
            torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
            assert torch.isfinite(torch.stack([layer.keys for layer in ours.layers])).all()


def test_unsupported_models_use_transformers() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    assert supports(_gpt2())
    assert not supports(_gpt2(scale_attn_by_inverse_layer_idx=True))
    assert not supports(_gpt2(reorder_and_upcast_attn=True))
    llama = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4
        )
    )
    assert lean_forward(llama) is None


@pytest.fixture(scope="module")
def pair(trained_model: Trained) -> tuple[Generator, Generator]:
    final = trained_model.result.final_dir
    assert final is not None
    lean, plain = Generator(final), Generator(final, lean=False)
    assert lean.lean is not None and plain.lean is None
    return lean, plain


@pytest.mark.slow
def test_lean_decoding_gives_the_same_samples(pair: tuple[Generator, Generator]) -> None:
    lean, plain = pair
    for kwargs in (
        {"n": 2, "temperature": 0.0, "max_new_tokens": 120},
        {"n": 3, "seed": 9, "temperature": 0.9, "max_new_tokens": 60, "context": "palette #ff0000"},
    ):
        a = lean.generate(PROMPTS, **kwargs)  # type: ignore[arg-type]
        b = plain.generate(PROMPTS, **kwargs)  # type: ignore[arg-type]
        assert [[(s.text, s.tokens, s.finished) for s in c] for c in a] == [
            [(s.text, s.tokens, s.finished) for s in c] for c in b
        ]


@pytest.mark.slow
def test_lean_continuous_batch_joins_like_transformers(pair: tuple[Generator, Generator]) -> None:
    """Requests joining mid-flight (cache merges, row retirement, trimming) decode alike on both."""

    def run(generator: Generator) -> dict[object, list[tuple[str, int]]]:
        batch = generator.batch()
        out: dict[object, list[tuple[str, int]]] = {}
        requests = [
            DecodeRequest(p, n=2, seed=i, temperature=0.7, max_new_tokens=50) for i, p in enumerate(PROMPTS)
        ]
        step = 0
        while requests or batch:
            if requests and step % 7 == 0:
                i = len(PROMPTS) - len(requests)
                out.update(
                    {k: [(s.text, s.tokens) for s in v] for k, v in batch.add([(i, requests.pop(0))]).items()}
                )
            out.update({k: [(s.text, s.tokens) for s in v] for k, v in batch.step().items()})
            step += 1
        return out

    lean, plain = pair
    got = run(lean)
    assert len(got) == len(PROMPTS)
    assert got == run(plain)
