"""The demo model: synthetic corpus -> held-out splits -> budgeted training -> greedy evaluation.

Acceptance: with the defaults and budget_seconds=300 on a 2-core CPU, >= 97% exact adherence and
>= 99.5% valid (parses and renders non-blank) on 200 held-out prompts never seen in training.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slm.corpus import make_splits
from slm.decode.ct2 import ConversionError, convert
from slm.decode.sampling import Generator
from slm.form.grid import choose_grid
from slm.quality.grammar import EvalResult, evaluate, generate_svgs, score_samples
from slm.synthetic import generate_corpus
from slm.train.config import Progress, TrainConfig, TrainExample, TrainResult
from slm.train.data import to_forms
from slm.train.loop import train


@dataclass
class DemoReport:
    exact_adherence: float  # on the held-out prompts
    valid: float  # parses and renders non-blank, held-out prompts
    compositional_adherence: float  # prompts whose (shape, colour) pair never appears in training
    compositional_valid: float
    heldout_prompts: int
    compositional_prompts: int
    compositional_pairs: list[tuple[str, str]]
    train_examples: int
    steps: int
    parameters: int
    train_seconds: float
    wall_seconds: float
    val_loss: float | None
    final_dir: Path | None
    status: str
    heldout_eval: EvalResult | None = None
    compositional_eval: EvalResult | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)


def demo_config(budget_seconds: float = 300.0, seed: int = 0) -> TrainConfig:
    return TrainConfig(budget_seconds=budget_seconds, seed=seed)


def train_demo(
    out_dir: str | Path,
    budget_seconds: float = 300.0,
    seed: int = 0,
    *,
    corpus_size: int = 60_000,
    heldout: int = 200,
    config: TrainConfig | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DemoReport:
    """Generate, hold out, train within the budget, evaluate greedily; every number is measured."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    splits = make_splits(seed=seed, heldout=heldout, compositional=heldout)
    corpus = list(generate_corpus(corpus_size, seed=seed + 100, exclude=splits.exclude))
    # The model reads and writes the model form, like every model trained here.
    form = choose_grid([e.svg for e in corpus[:500]]).spec
    train_examples, _ = to_forms([TrainExample(e.prompt, e.svg) for e in corpus], form)
    heldout, _ = to_forms([TrainExample(e.prompt, e.svg) for e in splits.heldout], form)
    cfg = config or demo_config(budget_seconds, seed)
    cfg.svg_form = form.as_dict()
    result: TrainResult = train(
        cfg,
        train_examples,
        heldout,
        out_dir,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    model_dir = result.final_dir or result.last_checkpoint
    held_eval = comp_eval = None
    if model_dir is not None:
        with contextlib.suppress(ConversionError):  # as registration does; transformers serves it if not
            convert(model_dir)
        gen = Generator(model_dir, num_threads=result.threads)  # the thread count training found fastest
        held_eval = evaluate(model_dir, [], [e.prompt for e in splits.heldout], generator=gen)
        held_eval.val_loss = result.val_loss
        comp_prompts = [e.prompt for e in splits.compositional]
        comp_eval = score_samples(comp_prompts, [s.text for s in generate_svgs(gen, comp_prompts)])
    return DemoReport(
        exact_adherence=held_eval.adherence_rate if held_eval else 0.0,
        valid=held_eval.valid_nonblank_rate if held_eval else 0.0,
        compositional_adherence=comp_eval.adherence_rate if comp_eval else 0.0,
        compositional_valid=comp_eval.valid_nonblank_rate if comp_eval else 0.0,
        heldout_prompts=len(splits.heldout),
        compositional_prompts=len(splits.compositional),
        compositional_pairs=splits.compositional_pairs,
        train_examples=len(train_examples),
        steps=result.steps,
        parameters=result.parameters,
        train_seconds=result.train_seconds,
        wall_seconds=time.perf_counter() - t0,
        val_loss=result.val_loss,
        final_dir=result.final_dir,
        status=result.status,
        heldout_eval=held_eval,
        compositional_eval=comp_eval,
        failures=[(f.prompt, f.svg) for f in held_eval.failures] if held_eval else [],
    )


def main() -> None:  # pragma: no cover - manual entry point: python -m slm.demo OUT [BUDGET]
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "demo-model"
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    report = train_demo(out, budget, on_progress=lambda p: print(p, flush=True))
    for key in (
        "exact_adherence",
        "valid",
        "compositional_adherence",
        "compositional_valid",
        "steps",
        "parameters",
        "train_seconds",
        "wall_seconds",
        "val_loss",
    ):
        print(f"{key}={getattr(report, key)}")
    for prompt, svg in report.failures[:5]:
        print("FAIL", prompt, "\n    ", svg)


if __name__ == "__main__":  # pragma: no cover
    main()
