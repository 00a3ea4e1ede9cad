from __future__ import annotations

import json
import re
from pathlib import Path

from slm.corpus import make_splits, read_jsonl, split_examples, write_jsonl
from slm.synthetic import (
    PALETTE,
    POSITIONS,
    SHAPES,
    DesignSpec,
    Holdout,
    generate_corpus,
)


def test_deterministic_per_seed() -> None:
    a = [e.to_row() for e in generate_corpus(200, seed=3)]
    b = [e.to_row() for e in generate_corpus(200, seed=3)]
    c = [e.to_row() for e in generate_corpus(200, seed=4)]
    assert a == b
    assert a != c


def test_any_size_and_full_coverage() -> None:
    examples = list(generate_corpus(3000, seed=0))
    assert len(examples) == 3000
    objects = [o for e in examples for o in e.spec.objects]
    assert {o.shape for o in objects} == set(SHAPES)
    assert {o.colour for o in objects} == set(PALETTE)
    assert {o.position for o in objects} == set(POSITIONS)
    assert {o.count for o in objects} == {1, 2, 3}
    assert {o.style for o in objects} == {"filled", "outlined"}
    assert {len(e.spec.objects) for e in examples} == {1, 2}


def test_canonical_svg_is_short_integer_and_parses() -> None:
    from core.svg import parse_svg

    for e in generate_corpus(300, seed=1):
        root = parse_svg(e.svg)
        assert root.get("viewBox") == "0 0 96 96"
        assert not re.search(r"\d\.\d", e.svg), "coordinates are integers"
        assert ">\n" not in e.svg and "  " not in e.svg
        assert len(e.svg) < 900


def test_prompt_grammar_example() -> None:
    spec = DesignSpec.from_dict(
        {
            "objects": [
                {"shape": "circle", "colour": "red", "size": "small", "position": "top left", "count": 2},
                {
                    "shape": "square",
                    "colour": "blue",
                    "size": "large",
                    "position": "center",
                    "count": 1,
                    "style": "outlined",
                },
            ]
        }
    )
    assert (
        spec.prompt == "two small red circles at the top left and a large blue outlined square at the center"
    )


def test_holdout_prompts_never_generated() -> None:
    held = [e.prompt for e in generate_corpus(50, seed=9)]
    training = {e.prompt for e in generate_corpus(5000, seed=9, exclude=held)}
    assert not training & set(held)


def test_split_examples_keeps_heldout_out_of_training() -> None:
    train, held = split_examples(generate_corpus(2000, seed=2), heldout=100, seed=2)
    assert len(held) == 100
    assert not {e.prompt for e in train} & {e.prompt for e in held}


def test_compositional_split() -> None:
    splits = make_splits(seed=0, heldout=50, compositional=50, compositional_pairs=3)
    pairs = set(splits.compositional_pairs)
    assert len(pairs) == 3
    train = list(generate_corpus(3000, seed=1, exclude=splits.exclude))
    seen_pairs = {(o.shape, o.colour) for e in train for o in e.spec.objects}
    assert not seen_pairs & pairs
    # Every shape and colour of a held-out pair is still seen in training, just not together.
    assert {s for s, _ in pairs} <= {s for s, _ in seen_pairs}
    assert {c for _, c in pairs} <= {c for _, c in seen_pairs}
    assert all(any((o.shape, o.colour) in pairs for o in e.spec.objects) for e in splits.compositional)
    train_prompts = {e.prompt for e in train}
    assert not train_prompts & {e.prompt for e in splits.heldout}
    assert not any((o.shape, o.colour) in pairs for e in splits.heldout for o in e.spec.objects)


def test_holdout_callable_and_unique() -> None:
    only_circles = list(generate_corpus(100, seed=5, exclude=lambda s: s.objects[0].shape != "circle"))
    assert all(e.spec.objects[0].shape == "circle" for e in only_circles)
    unique = list(generate_corpus(500, seed=5, unique=True))
    assert len({e.prompt for e in unique}) == 500
    assert Holdout(pairs=frozenset({("circle", "red")})).excludes(only_circles[0].spec) == any(
        (o.shape, o.colour) == ("circle", "red") for o in only_circles[0].spec.objects
    )


def test_jsonl_roundtrip(tmp_path: Path) -> None:
    examples = list(generate_corpus(20, seed=1))
    path = tmp_path / "corpus.jsonl"
    assert write_jsonl(examples, path) == 20
    rows = list(read_jsonl(path))
    assert [r["prompt"] for r in rows] == [e.prompt for e in examples]
    assert [r["svg"] for r in rows] == [e.svg for e in examples]
    assert [DesignSpec.from_dict(r["spec"]) for r in rows] == [e.spec for e in examples]
    assert json.loads(path.read_text().splitlines()[0]).keys() >= {"prompt", "svg", "spec"}


def test_no_torch_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, slm.synthetic, slm.adherence; "
        "bad = [m for m in ('torch', 'transformers', 'django') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
