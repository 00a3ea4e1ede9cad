from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.svg.colour import parse_colour
from core.svg.geometry import parse_transform
from slm.adherence import ASPECTS, check, check_file, parse_prompt
from slm.adherence_observe import nearest_palette_colour
from slm.synthetic import (
    COUNT_WORDS,
    PALETTE,
    POSITIONS,
    SHAPES,
    SIZES,
    STYLES,
    DesignSpec,
    ObjectSpec,
    generate_corpus,
    render_svg,
)

objects = st.builds(
    ObjectSpec,
    shape=st.sampled_from(SHAPES),
    colour=st.sampled_from(list(PALETTE)),
    size=st.sampled_from(list(SIZES)),
    position=st.sampled_from(list(POSITIONS)),
    count=st.sampled_from(list(COUNT_WORDS)),
    style=st.sampled_from(STYLES),
)
specs = st.lists(objects, min_size=1, max_size=2, unique_by=lambda o: o.position).map(
    lambda objs: DesignSpec(objects=tuple(objs))
)


@settings(max_examples=300, deadline=None)
@given(specs)
def test_canonical_svgs_are_fully_adherent(spec: DesignSpec) -> None:
    assert parse_prompt(spec.prompt) == spec
    result = check(spec.prompt, render_svg(spec))
    assert result.valid and result.adherent
    assert all(result.aspects[a] for a in ASPECTS)


def test_corpus_is_100_percent_adherent() -> None:
    examples = list(generate_corpus(1000, seed=21))
    assert all(check(e.prompt, e.svg).adherent for e in examples)


BASE = "two small red circles at the top left and a large blue outlined square at the center"


def _svg(*body: str) -> str:
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">' + "".join(body) + "</svg>"


REF = _svg(
    '<circle cx="8" cy="16" r="3" fill="#e53935"/><circle cx="24" cy="16" r="3" fill="#e53935"/>',
    '<rect x="41" y="41" width="14" height="14" fill="none" stroke="#1e88e5" stroke-width="2"/>',
)


def test_reference_passes() -> None:
    assert check(BASE, REF).adherent
    assert check(BASE, render_svg(parse_prompt(BASE))).adherent  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("svg", "aspect"),
    [
        (REF.replace('fill="#e53935"/><circle', 'fill="#43a047"/><circle'), "colour"),  # wrong colour
        (REF.replace('cx="24" cy="16"', 'cx="24" cy="80"'), "position"),  # moved
        (REF.replace('<circle cx="24" cy="16" r="3" fill="#e53935"/>', ""), "count"),  # wrong count
        (REF.replace('fill="none" stroke="#1e88e5" stroke-width="2"', 'fill="#1e88e5"'), "style"),  # fill
        (REF.replace('cx="24" cy="16" r="3"', 'cx="24" cy="16" r="7"'), "size"),
        (REF.replace('<rect x="41" y="41" width="14" height="14"', '<circle cx="48" cy="48" r="7"'), "shape"),
    ],
)
def test_perturbations_are_caught(svg: str, aspect: str) -> None:
    result = check(BASE, svg)
    assert result.valid
    assert not result.adherent
    assert not result.aspects[aspect], result.aspects


def test_extra_element_breaks_count() -> None:
    svg = REF.replace("</svg>", '<circle cx="40" cy="16" r="3" fill="#e53935"/></svg>')
    result = check(BASE, svg)
    assert not result.adherent and not result.aspects["count"]


def test_invalid_svg_is_not_valid() -> None:
    for bad in ["", "<svg", "<html/>", '<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>']:
        result = check(BASE, bad)
        assert not result.valid and not result.adherent and result.error


def test_prompt_outside_grammar() -> None:
    assert parse_prompt("draw me a cat") is None
    assert parse_prompt("two small red circle at the top") is None  # number agreement
    result = check("draw me a cat", REF)
    assert result.valid and not result.adherent
    assert parse_prompt("A Small Red Circle at the top.") == DesignSpec(
        objects=(ObjectSpec("circle", "red", "small", "top"),)
    )


def test_other_svg_dialects_are_understood() -> None:
    """Paths, CSS style, inherited paint, transforms, other viewBoxes and a background rect."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 192 192">'
        '<rect width="192" height="192" fill="white"/>'
        '<g style="fill: rgb(229, 57, 53)"><path d="M10 32 a6 6 0 1 0 12 0 a6 6 0 1 0 -12 0z"/>'
        '<g transform="translate(32 0)"><circle cx="16" cy="32" r="6"/></g></g>'
        '<path d="M96 82 L110 96 L96 110 L82 96 Z" fill="none" stroke="blue" stroke-width="3"/>'
        "</svg>"
    )
    prompt = "two small red circles at the top left and a large blue outlined diamond at the center"
    result = check(prompt, svg)
    assert result.valid
    assert result.adherent, [o.key() for o in result.observed]


def test_colour_helpers() -> None:
    assert parse_colour("#fff") == (255, 255, 255)
    assert parse_colour("rgb(100%, 0%, 0%)") == (255, 0, 0)
    assert parse_colour("none") is None
    assert nearest_palette_colour((250, 10, 10)) == "red"
    assert all(nearest_palette_colour(parse_colour(h)) == n for n, h in PALETTE.items())  # type: ignore[arg-type]
    assert parse_transform("translate(10 20) scale(2)") == (2, 0, 0, 2, 10, 20)


def test_check_file(tmp_path: Path) -> None:
    examples = list(generate_corpus(10, seed=4))
    rows = [{"prompt": e.prompt, "svg": e.svg} for e in examples]
    rows[0]["svg"] = "<not svg"
    rows[1]["svg"] = examples[2].svg  # valid but for another prompt
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    adherence, valid = check_file(path)
    assert valid == pytest.approx(0.9)
    assert adherence == pytest.approx(0.8)


def test_renderer_sees_canonical_designs_as_non_blank() -> None:
    from slm.quality.grammar import renderer

    nonblank = renderer()
    assert nonblank is not None, "core.svg exposes render_png and is_blank_png"
    example = next(iter(generate_corpus(1, seed=3)))
    assert nonblank(example.svg)
    assert not nonblank(_svg())
    assert not nonblank("<not svg")
