"""The synthetic corpus's held-out splits (unseen prompts, unseen shape-colour pairs) and its JSONL files."""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from slm.synthetic import (
    PALETTE,
    SHAPES,
    DesignSpec,
    Holdout,
    Splits,
    SyntheticExample,
    example_from_spec,
    generate_corpus,
    random_object,
    random_spec,
)


def split_examples(
    examples: Iterable[SyntheticExample], heldout: int, seed: int = 0
) -> tuple[list[SyntheticExample], list[SyntheticExample]]:
    """Hold out `heldout` distinct prompts; every copy of a held-out prompt leaves the training side."""
    items = list(examples)
    prompts = sorted({e.prompt for e in items})
    random.Random(seed).shuffle(prompts)
    held = set(prompts[:heldout])
    train = [e for e in items if e.prompt not in held]
    held_examples: dict[str, SyntheticExample] = {}
    for e in items:
        if e.prompt in held:
            held_examples.setdefault(e.prompt, e)
    return train, list(held_examples.values())


def choose_compositional_pairs(n_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """Distinct shapes and distinct colours, so every shape and colour is still seen in training."""
    rng = random.Random(seed)
    shapes = rng.sample(list(SHAPES), n_pairs)
    colours = rng.sample(list(PALETTE), n_pairs)
    return list(zip(shapes, colours, strict=True))


def compositional_examples(
    count: int, pairs: Collection[tuple[str, str]], seed: int = 0
) -> list[SyntheticExample]:
    """Designs in which the first group uses a held-out (shape, colour) pair."""
    rng = random.Random(seed)
    pair_list = sorted(pairs)
    out: dict[str, SyntheticExample] = {}
    while len(out) < count:
        spec = random_spec(rng)
        first = random_object(rng, spec.objects[0].position, rng.choice(pair_list))
        spec = DesignSpec(objects=(first, *spec.objects[1:]))
        out.setdefault(spec.prompt, example_from_spec(spec))
    return list(out.values())


def make_splits(
    seed: int = 0, heldout: int = 200, compositional: int = 200, compositional_pairs: int = 4
) -> Splits:
    """Held-out prompts (seen pairs, unseen prompts) and a compositional set (unseen pairs)."""
    pairs = choose_compositional_pairs(compositional_pairs, seed + 1) if compositional_pairs else []
    pair_set = frozenset(pairs)
    held = list(generate_corpus(heldout, seed=seed + 2, exclude=Holdout(pairs=pair_set), unique=True))
    comp = compositional_examples(compositional, pair_set, seed + 3) if pairs else []
    exclude = Holdout(prompts=frozenset(e.prompt for e in held + comp), pairs=pair_set)
    return Splits(heldout=held, compositional=comp, exclude=exclude, compositional_pairs=pairs)


def write_jsonl(examples: Iterable[SyntheticExample], path: str | Path) -> int:
    """Rows with prompt, svg and spec; returns the number written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(ex.to_row(), separators=(",", ":")) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
