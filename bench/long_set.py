"""The long-design half of the training bench: real MDI icons (fill icons, long designs) through the model
form, trained with the recipe MDI gets (context, dropout, token-budget batches), by the platform's
`train()` and by a bare PyTorch loop on the same model, sequences, batches and threads.

The bare loop is plain transformers + torch: the model from its config, AdamW, the loss on the SVG
positions only (as the platform computes it), batches padded inline. Both run in one process, so both get
the process's glibc malloc settings (slm.train.memory) and thread count; the ratio is the loop's own cost.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

MDI = Path("/work/shared/data/mdi")


def mdi_examples(folder: Path, count: int) -> tuple[list[Any], dict[str, Any]]:
    """`count` icons spread evenly over the set (sorted by name), in the model form, with their form."""
    from slm.form.spec import FormSpec
    from slm.recipe import profile_examples
    from slm.train.config import TrainExample
    from slm.train.data import to_forms

    svgs = sorted((folder / "icons").glob("*.svg"))
    step = max(1, len(svgs) // count)
    examples = []
    for svg in svgs[::step][:count]:
        side = svg.with_suffix(".json")
        meta = json.loads(side.read_text()) if side.exists() else {}
        prompt = svg.stem.replace("-", " ") + " icon"
        if meta.get("tags"):
            prompt += "; tags: " + ", ".join(meta["tags"][:8])
        if meta.get("categories"):
            prompt += "; categories: " + ", ".join(meta["categories"])
        examples.append(TrainExample(prompt, svg.read_text()))
    profile = profile_examples(examples)
    converted, _ = to_forms(examples, FormSpec.from_dict(profile["form"]))
    return converted, profile


def recipe_config(v: dict[str, Any], profile: dict[str, Any], *, steps: int, seed: int, **extra: Any) -> Any:
    """A TrainConfig of the recipe's values `v` for a set of this profile, stopped after `steps` steps
    (not a time budget), keeping the last state; `extra` sets other TrainConfig fields."""
    from slm.model import ModelConfig
    from slm.train.config import TrainConfig

    return TrainConfig(
        model=ModelConfig(
            n_layer=v["n_layer"],
            n_embd=v["n_embd"],
            n_head=v["n_head"],
            n_positions=v["n_positions"],
            dropout=v["dropout"],
        ),
        batch_size=v["batch_size"],
        batch_tokens=v["batch_tokens"],
        learning_rate=v["learning_rate"],
        weight_decay=v["weight_decay"],
        max_steps=steps,
        budget_seconds=None,
        seed=seed,
        svg_form=profile["form"],
        select_by="last",
        **extra,
    )


def long_set_ratio(
    folder: Path, count: int, steps: int, rounds: int, threads: int, seed: int
) -> float | None:
    import torch

    from slm.recipe import data_profile, derive
    from slm.train.data import IGNORE
    from slm.train.loop import train
    from slm.train.setup import setup_run

    if not (folder / "icons").is_dir():
        print(f"long set: {folder} not found, skipped")
        return None
    examples, profile = mdi_examples(folder, count)
    v = derive(data_profile(profile)).values
    config = recipe_config(v, profile, steps=steps, seed=seed, checkpoint_every=steps, num_threads=threads)
    lengths = sorted(len(e.svg.split()) for e in examples)
    print(
        f"long set: {len(examples)} MDI icons, ~{statistics.fmean(lengths):.0f} form units (max {lengths[-1]}), "
        f"context {v['n_positions']}, dropout {v['dropout']}, batches of {v['batch_tokens']} tokens"
    )
    # The bare side's data: the platform's encoded sequences and batch order, read off once.
    with tempfile.TemporaryDirectory(prefix="training-bench-long-") as out:
        run = setup_run(config, examples, [], Path(out), None)
        encoded, fill, model_config = run.encoded, run.fill_id, run.model.config
        batches = [next(run.batcher) for _ in range(steps)]
        del run

    def bare_round() -> float:
        from transformers import AutoModelForCausalLM

        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(model_config)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        tokens = 0
        t0 = time.perf_counter()
        for batch in batches:
            rows = [encoded[i] for i in batch]
            width = max(len(e.ids) for e in rows)
            ids = torch.full((len(rows), width), fill, dtype=torch.long)
            labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
            for r, e in enumerate(rows):
                ids[r, : len(e.ids)] = torch.tensor(e.ids)
                labels[r, e.prefix_len : len(e.ids)] = ids[r, e.prefix_len : len(e.ids)]
            hidden = model.base_model(input_ids=ids, use_cache=False).last_hidden_state
            keep = labels[:, 1:] != IGNORE
            logits = model.get_output_embeddings()(hidden[:, :-1][keep])
            loss = torch.nn.functional.cross_entropy(logits, labels[:, 1:][keep])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += sum(len(e.ids) for e in rows)
        return tokens / (time.perf_counter() - t0)

    def platform_round() -> float:
        with tempfile.TemporaryDirectory(prefix="training-bench-long-") as out:
            result = train(config, examples, [], Path(out), should_stop=lambda: False)
        assert result.steps == steps
        return result.tokens_per_second

    torch.set_num_threads(threads)
    bare, platform = [], []
    for r in range(rounds):
        order = [("bare", bare_round, bare), ("platform", platform_round, platform)]
        for name, fn, rates in order if r % 2 == 0 else order[::-1]:
            rates.append(fn())
            print(f"long round {r + 1} {name:8s} {rates[-1]:10.0f} tokens/s", flush=True)
    bare_rate, platform_rate = statistics.median(bare), statistics.median(platform)
    print(f"long bare     {bare_rate:.0f} tokens/s (median of {rounds})")
    print(f"long platform {platform_rate:.0f} tokens/s (median of {rounds})")
    return platform_rate / bare_rate
