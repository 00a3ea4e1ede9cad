from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from slm.model import load_model
from slm.synthetic import SyntheticExample
from slm.train.checkpoints import MANIFEST, latest_checkpoint, list_checkpoints
from slm.train.config import Progress, TrainConfig, TrainExample, as_example
from slm.train.data import BucketBatcher
from slm.train.loop import train
from slm.train.schedule import lr_at
from tests.ml.conftest import Trained
from tests.shared_fixtures import TINY_MODEL, tiny_config


def _state(path: Path) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in load_model(path).state_dict().items()}


@pytest.mark.slow
def test_tiny_model_learns(trained_model: Trained) -> None:
    result = trained_model.result
    assert result.status == "completed" and result.steps == 120
    first = trained_model.progress[0].loss
    assert result.train_loss < 0.5 * first, (first, result.train_loss)
    assert result.val_loss is not None and result.val_loss < 0.5 * first
    assert result.val_perplexity == pytest.approx(math.exp(result.val_loss))
    assert result.tokens_per_second > 0 and result.parameters > 10_000


@pytest.mark.slow
def test_final_artifacts(trained_model: Trained) -> None:
    final = trained_model.result.final_dir
    assert final is not None and final.name == "final"
    assert (final / "config.json").is_file()
    assert (final / "tokenizer.json").is_file()
    manifest = json.loads((final / MANIFEST).read_text())
    assert manifest["config"]["max_steps"] == 120
    assert manifest["metrics"]["steps"] == 120 and manifest["metrics"]["val_loss"] > 0
    assert TrainConfig.from_dict(manifest["config"]).model.n_embd == 64
    assert not list(final.parent.glob(".tmp-*"))
    # Plain transformers can load it too.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert AutoTokenizer.from_pretrained(final).sep_token == "<|sep|>"
    assert AutoModelForCausalLM.from_pretrained(final).config.n_embd == 64


def test_progress_reports(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    seen: list[Progress] = []
    result = train(
        tiny_config(max_steps=12), corpus[:300], corpus[300:340], tmp_path, on_progress=seen.append
    )
    assert result.status == "completed"
    steps = [p.step for p in seen]
    assert steps[:12] == list(range(1, 13))
    mid = seen[5]
    assert mid.total_steps == 12 and mid.loss > 0 and mid.tokens_per_second > 0
    assert mid.eta_seconds >= 0 and mid.learning_rate > 0
    assert seen[-1].eta_seconds == 0


def test_resume_continues_after_kill(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    """A run stopped at step 7 (checkpoint at 5 and the stop-time one at 7) resumes at 7 and ends at 20,
    bit-for-bit where an uninterrupted run ends."""
    config = tiny_config(max_steps=20, checkpoint_every=5)
    data, val = corpus[:400], corpus[400:420]
    reached: list[int] = []
    first = train(
        config,
        data,
        val,
        tmp_path / "run",
        on_progress=lambda p: reached.append(p.step),
        should_stop=lambda: bool(reached) and reached[-1] >= 7,
    )
    assert first.status == "cancelled" and first.steps == 7 and first.final_dir is None
    assert latest_checkpoint(tmp_path / "run") == tmp_path / "run" / "checkpoints" / "step-00000007"

    resumed_steps: list[int] = []
    second = train(config, data, val, tmp_path / "run", on_progress=lambda p: resumed_steps.append(p.step))
    assert second.status == "completed"
    assert second.resumed_from_step == 7
    assert resumed_steps[0] == 8 and second.steps == 20
    assert second.final_dir is not None

    straight = train(config, data, val, tmp_path / "straight")
    resumed, reference = _state(second.final_dir), _state(straight.final_dir)  # type: ignore[arg-type]
    for name, tensor in reference.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_cancel_stops_within_one_step_and_checkpoints(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    cancelled = {"flag": False}

    def on_progress(p: Progress) -> None:
        if p.step == 3:
            cancelled["flag"] = True  # e.g. a user pressed cancel while step 3 ran

    result = train(
        tiny_config(max_steps=1000, checkpoint_every=100),
        corpus[:300],
        [],
        tmp_path,
        on_progress=on_progress,
        should_stop=lambda: cancelled["flag"],
    )
    assert result.status == "cancelled"
    assert result.steps == 3
    ckpt = latest_checkpoint(tmp_path)
    assert ckpt is not None and ckpt.name == "step-00000003" and result.last_checkpoint == ckpt
    manifest = json.loads((ckpt / MANIFEST).read_text())
    assert manifest["step"] == 3
    assert (ckpt / "trainer_state.pt").is_file() and (ckpt / "config.json").is_file()
    assert not (tmp_path / "final").exists()


def test_cancel_before_first_step(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    result = train(tiny_config(), corpus[:100], [], tmp_path, should_stop=lambda: True)
    assert result.status == "cancelled" and result.steps == 0
    assert latest_checkpoint(tmp_path) is not None


def test_checkpoint_without_manifest_is_ignored(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    config = tiny_config(max_steps=10, checkpoint_every=5)
    data = corpus[:200]
    train(config, data, [], tmp_path)
    root = tmp_path / "checkpoints"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000005", "step-00000010"]
    # A torn write: the files of a later checkpoint are there, its manifest is not.
    torn = root / "step-00000015"
    shutil.copytree(root / "step-00000010", torn)
    (torn / MANIFEST).unlink()
    assert latest_checkpoint(tmp_path) == root / "step-00000010"
    config15 = tiny_config(max_steps=15, checkpoint_every=5)
    result = train(config15, data, [], tmp_path)
    assert result.resumed_from_step == 10 and result.steps == 15
    assert json.loads((root / "step-00000015" / MANIFEST).read_text())["step"] == 15
    assert len(list_checkpoints(tmp_path)) == 2  # keep_checkpoints


def test_init_from_reuses_vocabulary(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    base = train(tiny_config(max_steps=5), corpus[:200], [], tmp_path / "base")
    assert base.final_dir is not None
    # New data with text the base never saw: it must still encode (as characters) with the base vocab.
    extra = [TrainExample(prompt="a cat", svg='<svg viewBox="0 0 8 8"><path d="M1 1h6v6z"/></svg>')]
    stop_now = train(
        tiny_config(max_steps=5),
        extra + corpus[200:300],
        [],
        tmp_path / "ft",
        init_from=base.final_dir,
        should_stop=lambda: True,
    )
    ckpt = latest_checkpoint(tmp_path / "ft")
    assert stop_now.steps == 0 and ckpt is not None
    base_vocab = json.loads((base.final_dir / "tokenizer.json").read_text())["model"]["vocab"]
    ft_vocab = json.loads((ckpt / "tokenizer.json").read_text())["model"]["vocab"]
    assert base_vocab == ft_vocab
    for name, tensor in _state(base.final_dir).items():
        torch.testing.assert_close(_state(ckpt)[name], tensor)
    finished = train(
        tiny_config(max_steps=5), extra + corpus[200:300], [], tmp_path / "ft", init_from=base.final_dir
    )
    assert finished.status == "completed" and finished.steps == 5


def test_lr_schedule_warmup_and_decay() -> None:
    cfg = TrainConfig(
        max_steps=100, budget_seconds=None, warmup_steps=10, learning_rate=1e-3, min_lr_ratio=0.1
    )
    lrs = [lr_at(cfg, s, 0.0) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9]
    assert max(lrs) == pytest.approx(lrs[9], rel=0.02)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lr_at(cfg, 100, 0.0) == pytest.approx(1e-4)
    timed = TrainConfig(
        max_steps=None, budget_seconds=60, warmup_steps=1, learning_rate=1e-3, min_lr_ratio=0.0
    )
    assert lr_at(timed, 50, 30.0) == pytest.approx(0.5e-3)  # halfway through the time budget


def test_bucket_batcher_covers_epoch_and_resumes() -> None:
    lengths = [(i * 37) % 50 + 5 for i in range(1000)]
    batcher = BucketBatcher(lengths, batch_size=16, seed=1, bucket_batches=8)
    epoch = [next(batcher) for _ in range(len(batcher._batches))]
    assert sorted(i for b in epoch for i in b) == list(range(1000))
    padded = sum(max(lengths[i] for i in b) * len(b) for b in epoch)
    assert padded < 1.15 * sum(lengths)  # bucketing keeps padding low
    state = batcher.state_dict()
    expected = [next(batcher) for _ in range(5)]
    again = BucketBatcher(lengths, batch_size=16, seed=1, bucket_batches=8)
    again.load_state_dict(state)
    assert [next(again) for _ in range(5)] == expected


def test_as_example_accepts_common_shapes(corpus: list[SyntheticExample]) -> None:
    assert as_example(("p", "s")) == TrainExample("p", "s")
    assert as_example(("p", "s", "ctx")) == TrainExample("p", "s", "ctx")
    assert as_example({"prompt": "p", "svg": "s"}) == TrainExample("p", "s")
    assert as_example(corpus[0]) == TrainExample(corpus[0].prompt, corpus[0].svg)


def test_requires_a_bound() -> None:
    with pytest.raises(ValueError):
        train(TrainConfig(max_steps=None, budget_seconds=None), [("p", "s")], [], Path("/nonexistent"))


def test_time_budget_stops(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    result = train(tiny_config(max_steps=None, budget_seconds=1.0), corpus[:300], [], tmp_path)
    assert result.status == "completed" and result.steps > 0
    assert result.train_seconds < 3.0
    manifest = json.loads((tmp_path / "final" / MANIFEST).read_text())
    assert manifest["metrics"]["training_seconds"] >= 1.0


def test_thread_tuner_prefers_the_faster_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from slm.train.threads import ThreadTuner

    current = {"n": torch.get_num_threads()}
    monkeypatch.setattr(torch, "set_num_threads", lambda n: current.__setitem__("n", n))
    tuner = ThreadTuner([2, 1], period_s=1000, trial_steps=3)
    for _ in range(6):  # one trial: 3 steps per candidate, the first of each untimed
        tuner.before_step()
        tuner.after_step(3.0 if current["n"] == 2 else 1.0, tokens=100)  # 2 threads: 3x slower
    assert tuner.best == 1
    tuner.before_step()
    assert current["n"] == 1


@pytest.mark.slow
def test_llama_architecture_trains_and_generates(tmp_path: Path, corpus: list[SyntheticExample]) -> None:
    from slm.decode.ct2 import convert
    from slm.decode.sampling import Generator

    config = tiny_config(model=replace(TINY_MODEL, arch="llama"))
    result = train(config, corpus[:300], corpus[300:320], tmp_path)
    assert result.final_dir is not None and result.val_loss is not None
    convert(result.final_dir)  # as registration does: CTranslate2 decodes a Llama too
    gen = Generator(result.final_dir)
    assert gen.engine == "ctranslate2", gen.fallback_reason
    prompts = [e.prompt for e in corpus[:3]]
    batched = gen.generate(prompts, n=1, temperature=0.0, max_new_tokens=20)
    singles = [gen.generate([p], n=1, temperature=0.0, max_new_tokens=20)[0][0].text for p in prompts]
    assert [c[0].text for c in batched] == singles


def _forms(corpus: list[SyntheticExample]) -> tuple[list[TrainExample], dict]:
    from slm.form.spec import FormSpec
    from slm.train.data import to_forms

    spec = FormSpec(96, 96.0)
    examples, failures = to_forms([TrainExample(e.prompt, e.svg) for e in corpus], spec)
    assert not failures
    return examples, spec.as_dict()


def test_a_model_form_run_validates_and_keeps_its_best_designs(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    """select_by=val_iou: checks spread over the run (designs in its second half), the kept state is
    the best check's (a later one within the tolerance), and the model writes SVG through its form."""
    from slm.decode.sampling import Generator

    examples, form = _forms(corpus[:400])
    config = tiny_config(
        max_steps=30, svg_form=form, select_by="val_iou", validations=5, validation_prompts=8
    )
    result = train(config, examples[:360], examples[360:], tmp_path)
    checks = result.validation
    assert [int(c["step"]) for c in checks] == [6, 12, 18, 24, 30]
    assert all("val_loss" in c for c in checks)
    assert [("val_iou" in c) for c in checks] == [False, False, True, True, True]
    best = max(c["val_iou"] for c in checks if "val_iou" in c)
    kept = result.kept_step if result.kept_step is not None else result.steps
    kept_check = next(c for c in checks if int(c["step"]) == kept)
    assert kept_check["val_iou"] >= best - 0.01
    gen = Generator(result.final_dir)
    assert gen.form is not None and gen.form.grid == 96
    [[sample]] = gen.generate([examples[0].prompt], max_new_tokens=40)
    assert sample.text.startswith("<svg") and sample.form != sample.text


def test_a_val_loss_run_keeps_its_lowest_loss(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    examples, form = _forms(corpus[:300])
    config = tiny_config(max_steps=20, svg_form=form, select_by="val_loss", validations=4)
    result = train(config, examples[:260], examples[260:], tmp_path)
    lowest = min(result.validation, key=lambda c: c["val_loss"])
    assert (result.kept_step or result.steps) == int(lowest["step"])
    assert result.val_loss == pytest.approx(lowest["val_loss"], rel=1e-4)


def test_prompt_variants_thin_clauses_and_names() -> None:
    import random

    from slm.train.data import prompt_variants

    prompt = "file chart column icon; tags: statistics, analytics; categories: files, charts"
    variants = prompt_variants(prompt, 6, random.Random(0))
    assert variants[0] == prompt and len(variants) == 6
    assert all(len(v) <= len(prompt) for v in variants) and any(len(v) < len(prompt) for v in variants)
    assert any(
        not v.startswith(("file", "chart", "column", "icon")) for v in variants
    )  # one without its name
    assert prompt_variants("two small red circles at the top", 3, random.Random(0)) == [
        "two small red circles at the top"
    ]
