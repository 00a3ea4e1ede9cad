"""Training throughput: the platform's `train()` (schedule, clipping, progress callbacks, cancellation
checks, atomic checkpoints) against a bare PyTorch loop on the same model, data, batches and threads, in
one run. Rounds alternate so that load from other processes hits both sides alike; the median round of
each side counts. Prints tokens/s for each; the last line is `ratio=<platform tokens/s ÷ bare tokens/s>`.

Before it, `ddp_scaling=<tokens/s with 2 processes ÷ 1 process>`: the same run (model, data, global batch,
steps) as two torchrun processes (DDP, gloo, one thread each) against one process as the platform runs it
(its thread tuner choosing between all cores and one), both timed over the training loop only (rank 0's
loop; torchrun's start-up excluded). `--ddp-processes 0` skips it.

Then `long_set_ratio=<platform tokens/s ÷ bare tokens/s>` on long designs: real MDI icons (fill icons) in
the model form with the recipe MDI gets (bench/long_set.py); `--long-examples 0` skips it.

    python bench/training_bench.py [--steps 50] [--rounds 3] [--threads 1] [--ddp-processes 2]
        [--long-examples 600] [--long-steps 10] [--mdi /work/shared/data/mdi]

No Django needed. Both sides count only real (non-padding) tokens and exclude one-off setup (tokenizer
training, encoding); the platform side includes its checkpoint writes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="same for both sides (1 is steadiest on a shared CPU)"
    )
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ddp-processes", type=int, default=2)
    parser.add_argument("--long-examples", type=int, default=600, help="MDI icons for long_set_ratio")
    parser.add_argument("--long-steps", type=int, default=10)
    parser.add_argument("--mdi", type=Path, default=Path("/work/shared/data/mdi"))
    args = parser.parse_args()

    import torch

    from slm.model import build_model
    from slm.synthetic import generate_corpus
    from slm.tokenizer import prefix_text, train_tokenizer
    from slm.train.config import Progress, TrainConfig, as_example
    from slm.train.data import BucketBatcher, collate, encode_examples
    from slm.train.loop import train
    from slm.train.loss import lm_loss

    torch.set_num_threads(args.threads)
    examples = [as_example(e) for e in generate_corpus(args.examples, seed=args.seed)]
    config = TrainConfig(
        max_steps=args.steps,
        budget_seconds=None,
        checkpoint_every=args.steps,  # one atomic checkpoint per run (production: every 250 steps)
        progress_every=10,
        num_threads=args.threads,
        seed=args.seed,
    )

    # The bare side: identical tokenizer, initial weights, batches and batch size; nothing else.
    tokenizer = train_tokenizer(t for e in examples for t in (prefix_text(e.prompt, e.context), e.svg))
    encoded, _ = encode_examples(tokenizer, examples, config.model.n_positions)
    fill = tokenizer.eos_token_id

    def bare_round() -> float:
        torch.manual_seed(config.seed)
        model = build_model(config.model, tokenizer)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        batcher = BucketBatcher(
            [len(e.ids) for e in encoded], config.batch_size, config.seed, config.bucket_batches
        )
        tokens = 0
        t0 = time.perf_counter()
        for _ in range(args.steps):
            ids, labels, n = collate([encoded[i] for i in next(batcher)], fill)
            loss = lm_loss(model, ids, labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += n
        return tokens / (time.perf_counter() - t0)

    def platform_round() -> float:
        seen: list[Progress] = []
        with tempfile.TemporaryDirectory(prefix="training-bench-") as out:
            result = train(
                config, examples, [], Path(out), on_progress=seen.append, should_stop=lambda: False
            )
        assert result.steps == args.steps and result.last_checkpoint is not None
        return result.tokens_per_second

    bare, platform = [], []
    for r in range(args.rounds):
        # Alternate which side goes first so a load spike does not always land on the same one.
        order = [("bare", bare_round), ("platform", platform_round)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            rate = fn()
            (bare if name == "bare" else platform).append(rate)
            print(f"round {r + 1} {name:8s} {rate:10.0f} tokens/s", flush=True)
    bare_rate, platform_rate = statistics.median(bare), statistics.median(platform)
    print(f"bare     {bare_rate:.0f} tokens/s (median of {args.rounds})")
    print(f"platform {platform_rate:.0f} tokens/s (median of {args.rounds})")
    if args.long_examples > 0:
        from bench.long_set import long_set_ratio

        long_ratio = long_set_ratio(
            args.mdi, args.long_examples, args.long_steps, args.rounds, args.threads, args.seed
        )
        if long_ratio is not None:
            print(f"long_set_ratio={long_ratio:.3f}")
    if args.ddp_processes > 1:
        ddp_scaling(args, config, examples)
    print(f"ratio={platform_rate / bare_rate:.3f}")


def ddp_scaling(args: argparse.Namespace, config, examples) -> None:
    """One process on all cores against N torchrun processes sharing them, same global batch."""
    import os
    from dataclasses import replace

    from slm.train.launch import launch
    from slm.train.loop import train

    cores = os.cpu_count() or 1
    steps = max(args.steps, 100)  # enough steps that rank 0's loop time is not all warm-up
    single_cfg = replace(config, max_steps=steps, checkpoint_every=steps, num_threads=None)
    multi_cfg = replace(single_cfg, num_threads=max(1, cores // args.ddp_processes))
    one, many = [], []
    for r in range(args.rounds):
        for name in ("one", "many") if r % 2 == 0 else ("many", "one"):
            with tempfile.TemporaryDirectory(prefix="training-bench-ddp-") as out:
                if name == "one":
                    rate = train(single_cfg, examples, [], Path(out)).tokens_per_second
                    one.append(rate)
                else:
                    result = launch(multi_cfg, examples, [], Path(out), processes=args.ddp_processes)
                    assert result.steps == steps
                    rate = result.tokens_per_second
                    many.append(rate)
            label = "1 process" if name == "one" else f"{args.ddp_processes} processes"
            print(f"round {r + 1} {label:12s} {rate:10.0f} tokens/s", flush=True)
    one_rate, many_rate = statistics.median(one), statistics.median(many)
    print(f"1 process (tuned threads)   {one_rate:.0f} tokens/s (median of {args.rounds})")
    print(f"{args.ddp_processes} processes (DDP, gloo) {many_rate:.0f} tokens/s (median of {args.rounds})")
    print(f"ddp_scaling={many_rate / one_rate:.3f}")


if __name__ == "__main__":
    main()
