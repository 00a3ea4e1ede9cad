"""What keeps training fast on long designs: attention on the fused kernel (no attention dropout), batches
of a token budget, glibc's heap kept mapped between steps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from slm.model import ModelConfig, build_model, without_attention_dropout
from slm.synthetic import SyntheticExample
from slm.tokenizer import prefix_text, train_tokenizer
from slm.train.data import BucketBatcher
from slm.train.memory import tune_malloc
from slm.train.setup import setup_run
from tests.shared_fixtures import tiny_config

FUSED = "aten::_scaled_dot_product_flash_attention_for_cpu"


def _tokenizer(corpus: list[SyntheticExample]):  # type: ignore[no-untyped-def]
    texts = (t for e in corpus[:200] for t in (prefix_text(e.prompt, None), e.svg))
    return train_tokenizer(texts, vocab_size=300)


def _ops_of_a_training_step(model: torch.nn.Module) -> set[str]:
    model.train()
    ids = torch.randint(0, 100, (2, 48))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(input_ids=ids, labels=ids).loss.backward()
    return {e.key for e in prof.key_averages()}


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_dropout_regularises_but_attention_takes_the_fused_kernel(arch: str, corpus) -> None:  # type: ignore[no-untyped-def]
    model = build_model(
        ModelConfig(arch=arch, n_layer=2, n_embd=32, n_head=2, dropout=0.1), _tokenizer(corpus)
    )
    if arch == "gpt2":  # residual and embedding dropout are kept (Llama has attention dropout only)
        assert 0.1 in [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        assert model.config.resid_pdrop == 0.1 and model.config.attn_pdrop == 0.0
    else:
        assert model.config.attention_dropout == 0.0
    ops = _ops_of_a_training_step(model)
    assert FUSED in ops, sorted(op for op in ops if "attention" in op or "softmax" in op)


def test_a_model_saved_with_attention_dropout_trains_without_it() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    old = GPT2LMHeadModel(
        GPT2Config(vocab_size=100, n_positions=64, n_embd=32, n_layer=1, n_head=2, attn_pdrop=0.1)
    )
    assert FUSED not in _ops_of_a_training_step(old)  # the math path: the check can fail
    without_attention_dropout(old)
    assert FUSED in _ops_of_a_training_step(old)


def test_token_batches_stay_in_budget_cover_each_epoch_and_resume() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(5, 300) for _ in range(2000)] + [700]  # one longer than the budget
    budget = 1024

    def batcher() -> BucketBatcher:
        return BucketBatcher(lengths, batch_size=4, seed=5, bucket_batches=8, max_tokens=budget)

    b = batcher()
    for number in range(2):  # an epoch's batch count varies with its shuffle
        epoch = [next(b)]
        assert b.epoch == number
        while b.position < len(b._batches):
            epoch.append(next(b))
        assert sorted(i for x in epoch for i in x) == list(range(len(lengths)))  # each example once
        assert all(len(x) * max(lengths[i] for i in x) <= budget for x in epoch)
        padded = sum(len(x) * max(lengths[i] for i in x) for x in epoch)
        assert padded < 1.15 * sum(lengths)  # bucketed: little padding
        assert max(len(x) for x in epoch) > 4  # the budget, not batch_size, sizes a batch
    assert [next(batcher()) for _ in range(3)] == [next(batcher()) for _ in range(3)]  # deterministic
    state = b.state_dict()
    expected = [next(b) for _ in range(7)]
    again = batcher()
    again.load_state_dict(state)
    assert [next(again) for _ in range(7)] == expected


def test_a_run_with_a_token_budget_batches_by_it(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    run = setup_run(tiny_config(batch_tokens=2000), corpus[:300], corpus[:8], tmp_path, None)
    lengths = [len(e.ids) for e in run.encoded]
    batches = run.batcher._batches
    assert all(len(b) * max(lengths[i] for i in b) <= 2000 for b in batches)
    assert len(batches) < len(lengths) / 16  # more sequences a batch than batch_size=16


def test_tune_malloc_takes_on_glibc() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert tune_malloc()


def test_evaluation_batches_are_bounded_by_tokens_and_the_loss_does_not_change(corpus) -> None:  # type: ignore[no-untyped-def]
    from array import array

    from slm.train.data import EncodedExample
    from slm.train.loss import _eval_batches, evaluation_loss

    rng = random.Random(1)
    encoded = [
        EncodedExample(array("i", [rng.randrange(3, 90) for _ in range(n)]), 2) for n in range(4, 120, 3)
    ]
    ordered = sorted(encoded, key=lambda e: len(e.ids))
    batches = _eval_batches(ordered, batch_size=64, max_tokens=200)
    assert [e for b in batches for e in b] == ordered
    assert all(len(b) * max(len(e.ids) for e in b) <= 200 or len(b) == 1 for b in batches)
    model = build_model(ModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=128), _tokenizer(corpus))
    whole = evaluation_loss(model, encoded, 0, batch_size=64, max_tokens=10**6)
    bounded = evaluation_loss(model, encoded, 0, batch_size=64, max_tokens=200)
    assert whole == pytest.approx(bounded, rel=1e-5)


def test_validation_loss_reads_an_evenly_spread_sample_of_a_large_split(corpus) -> None:  # type: ignore[no-untyped-def]
    from array import array
    from collections.abc import Sequence

    from slm.train.data import EncodedExample
    from slm.train.loss import evaluation_loss

    class Counted(Sequence[EncodedExample]):  # a split read off disk one sequence at a time (TokenCache)
        def __init__(self, items: list[EncodedExample]) -> None:
            self.items, self.reads = items, 0

        def __len__(self) -> int:
            return len(self.items)

        def __getitem__(self, i):  # type: ignore[no-untyped-def]
            self.reads += 1
            return self.items[i]

    rng = random.Random(2)
    items = [
        EncodedExample(array("i", [rng.randrange(3, 90) for _ in range(rng.randrange(5, 60))]), 2)
        for _ in range(300)
    ]
    model = build_model(ModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=128), _tokenizer(corpus))
    split = Counted(items)
    sampled = evaluation_loss(model, split, 0, limit=40)
    assert split.reads == 40  # not the whole split
    spread = [items[i * 300 // 40] for i in range(40)]
    assert sampled == pytest.approx(evaluation_loss(model, spread, 0), rel=1e-5)
    assert evaluation_loss(model, items, 0, limit=300) != pytest.approx(sampled, rel=1e-5)


def test_an_epochs_batches_hold_a_few_bytes_a_sequence() -> None:
    import tracemalloc

    rng = random.Random(3)
    lengths = [rng.randrange(20, 200) for _ in range(200_000)]
    tracemalloc.start()
    try:
        batcher = BucketBatcher(lengths, batch_size=32, seed=0, max_tokens=2560)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(len(b) for b in batcher._batches) == len(lengths)
    assert held / len(lengths) < 16  # lists of Python ints held ~48 bytes a sequence
