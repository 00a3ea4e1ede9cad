"""Training recipes compared at a fixed number of steps on a real icon set: the loss curve and the
validation loss at the end, and tokens per second. The README's table on the coordinate start (slm.coordinates)
and the trimmed vocabulary came from this.

    python bench/fixed_steps.py [--set ../shared/data/mdi] [--steps 800] [--seed 0]
        [--random-init] [--both-variants] [--all-rows] [--budget 600]

The configuration is the recipe's for the set at `--budget` seconds (slm.recipe.derive), with the step
count fixed instead of the time: the same steps learn the same whatever the machine's load, so two
variants compare by loss; tokens/s compares only between runs with nothing else running. 5% of the
icons (shuffled with seed 0) are held out for the validation loss. No Django needed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/mdi")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=600, help="the budget whose recipe is used")
    parser.add_argument("--random-init", action="store_true", help="no coordinate start")
    parser.add_argument(
        "--both-variants", action="store_true", help="every unit also without its leading space (before)"
    )
    parser.add_argument(
        "--all-rows", action="store_true", help="the loss over every output row (before slm.output_rows)"
    )
    args = parser.parse_args()

    from long_set import mdi_examples, recipe_config

    from slm.recipe import data_profile, derive
    from slm.train import setup
    from slm.train.config import Progress
    from slm.train.loop import train

    examples, profile = mdi_examples(args.set, 10**9)
    random.Random(0).shuffle(examples)
    held = len(examples) // 20
    val, train_set = examples[:held], examples[held:]
    v = derive(data_profile({**profile, "train_examples": len(train_set)}), budget_seconds=args.budget).values
    if args.both_variants:
        setup.opening_units = list  # every unit may open a text: both variants, as before
    config = recipe_config(
        v,
        profile,
        steps=args.steps,
        seed=args.seed,
        warmup_steps=v["warmup_steps"],
        prompt_variants=v["prompt_variants"],
        checkpoint_every=10**9,
        progress_every=50,
        validations=1,
        coordinate_init=not args.random_init,
        target_rows_only=not args.all_rows,
    )
    print(f"{len(train_set)} training icons, {len(val)} held out; recipe {v}", flush=True)
    t0 = time.perf_counter()

    def progress(p: Progress) -> None:
        if p.step % 100 == 0:
            print(f"step {p.step} loss {p.loss:.4f} {p.tokens_per_second:.0f} tokens/s", flush=True)

    with tempfile.TemporaryDirectory(prefix="fixed-steps-") as out:
        r = train(config, train_set, val, Path(out), on_progress=progress)
    print(
        f"steps={r.steps} train_loss={r.train_loss:.4f} val_loss={r.val_loss:.4f} "
        f"tokens_per_second={r.tokens_per_second:.0f} parameters={r.parameters} "
        f"seconds={time.perf_counter() - t0:.0f}"
    )


if __name__ == "__main__":
    main()
