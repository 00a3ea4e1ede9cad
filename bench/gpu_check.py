"""The GPU path, measured: a 60 s demo-corpus training on CUDA (bf16 autocast, TF32, pinned batches), a
2-process DDP run (NCCL) when two GPUs are present, and generation on CUDA; prints tokens/s and the
adherence reached on held-out prompts. `bench/gpu_check.sh` installs the project and runs this.

    python bench/gpu_check.py [--budget 60] [--device cuda] [--processes 2] [--out DIR]

`--device cpu` runs the same pieces on the CPU (DDP with gloo), which is how the suite exercises this file
on machines without a GPU; its figures say nothing about a GPU. No Django needed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per run")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--processes", type=int, default=2, help="DDP processes (run when that many devices)")
    parser.add_argument("--corpus", type=int, default=60_000)
    parser.add_argument("--heldout", type=int, default=200)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)

    import torch

    from slm.corpus import make_splits
    from slm.decode.sampling import Generator
    from slm.form.grid import choose_grid
    from slm.quality.grammar import generate_svgs, score_samples
    from slm.synthetic import generate_corpus
    from slm.train.config import Progress, TrainConfig, TrainExample
    from slm.train.data import to_forms
    from slm.train.launch import launch
    from slm.train.loop import train

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print("no CUDA device: torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    devices = torch.cuda.device_count() if cuda else (args.processes if args.processes > 1 else 1)
    if cuda:
        print(
            f"torch {torch.__version__}, CUDA {torch.version.cuda}, {devices} GPU(s): "
            + ", ".join(torch.cuda.get_device_name(i) for i in range(devices))
            + f"; bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}",
            flush=True,
        )
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu-check-"))

    splits = make_splits(seed=0, heldout=args.heldout, compositional=args.heldout)
    corpus = list(generate_corpus(args.corpus, seed=100, exclude=splits.exclude))
    form = choose_grid([e.svg for e in corpus[:500]]).spec
    examples, _ = to_forms([TrainExample(e.prompt, e.svg) for e in corpus], form)
    heldout, _ = to_forms([TrainExample(e.prompt, e.svg) for e in splits.heldout], form)
    prompts = [e.prompt for e in splits.heldout]

    def config() -> TrainConfig:
        cfg = TrainConfig(budget_seconds=args.budget, device=args.device, seed=0)
        cfg.svg_form = form.as_dict()
        return cfg

    def report(name: str, model_dir: Path, train_rate: float, steps: int) -> None:
        gen = Generator(model_dir, device=args.device)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        samples = generate_svgs(gen, prompts)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        scored = score_samples(prompts, [s.text for s in samples])
        tokens = sum(s.tokens for s in samples)
        print(
            f"{name}: steps={steps} train_tokens_per_s={train_rate:.0f} "
            f"generate_tokens_per_s={tokens / max(seconds, 1e-9):.0f} ({len(prompts)} prompts, greedy) "
            f"adherence={scored.adherence_rate:.4f} valid={scored.valid_nonblank_rate:.4f}",
            flush=True,
        )

    seen: list[Progress] = []
    one = train(config(), examples, heldout, out / "one", on_progress=seen.append)
    report(f"1 process ({args.device})", one.final_dir, one.tokens_per_second, one.steps)

    if args.processes > 1 and devices >= args.processes:
        many = launch(config(), examples, heldout, out / "ddp", processes=args.processes)
        report(
            f"{args.processes} processes (DDP, {'NCCL' if cuda else 'gloo'})",
            many.final_dir,
            many.tokens_per_second,
            many.steps,
        )
        print(f"ddp_scaling={many.tokens_per_second / one.tokens_per_second:.3f}")
    else:
        print(f"DDP skipped: {devices} device(s), {args.processes} processes asked for")
    return 0


if __name__ == "__main__":
    sys.exit(main())
