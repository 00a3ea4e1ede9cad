"""Hostile SVGs in the model form's encoder: stylesheets and <use> copies that would take minutes, and numbers
that overflow or turn NaN, are refused per example with ModelFormError (so a training run leaves the example
out, counts it and goes on), never a crash of the whole batch."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.svg import SvgError, parse_svg
from core.svg.compare import pixel_l2, rasterise
from slm.form.decode import decode
from slm.form.encode import encode
from slm.form.spec import FormSpec, ModelFormError
from slm.train.config import TrainExample
from slm.train.data import to_forms

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="{vb}">{body}</svg>'


def svg(body: str, vb: str = "0 0 24 24") -> str:
    return SVG.format(vb=vb, body=body)


def test_stylesheet_rules_are_tried_only_where_they_can_match() -> None:
    """250 class rules (clean_svg refuses more than 256) and 300 elements: each element is tried against its
    own rule, not all 250 (the old encoder tried every rule on every element: 30,000 rules on 10,000 rects
    took 130 s of CPU)."""
    from slm.form.paint import Stylesheet

    rules = "".join(f".c{i}{{fill:#{i:02x}0000}}" for i in range(250))
    rects = "".join(f'<rect class="c{i * 10 % 250}" width="1" height="1"/>' for i in range(300))
    root = parse_svg(svg(f"<style>{rules}</style>{rects}"))
    sheet = Stylesheet(root)
    drawn = [el for el in root if el.tag.endswith("rect")]
    assert [sheet.matching(el, "rect") for el in drawn[:2]] == [[{"fill": "#000000"}], [{"fill": "#0a0000"}]]
    for el in drawn[2:]:
        sheet.matching(el, "rect")
    assert sheet.work == 2 * len(drawn)  # one rule and one lookup per element
    assert encode(svg(f"<style>{rules}</style>{rects}"), 48).elements == 300


def test_a_stylesheet_past_the_work_budget_is_refused() -> None:
    from slm.form.paint import MAX_STYLE_WORK

    rules = "rect{fill:red}" * 250  # under clean_svg's cap on rules
    rects = '<rect width="1" height="1"/>' * 1000  # 250,000 rule matches
    assert MAX_STYLE_WORK < 250 * 1000
    with pytest.raises(ModelFormError, match="stylesheet takes more than"):
        encode(svg(f"<style>{rules}</style>{rects}"), 48)


def test_use_copies_past_the_budget_are_refused() -> None:
    """Each level draws the one below 16 times: 65,536 rects from a document of 70 elements."""
    levels = ['<rect id="l0" width="1" height="1"/>']
    for k in range(1, 5):
        uses = "".join(f'<use href="#l{k - 1}" x="{i % 2}"/>' for i in range(16))
        levels.append(f'<g id="l{k}">{uses}</g>')
    body = f"<defs>{''.join(levels[:-1])}</defs>{levels[-1]}"
    with pytest.raises(ModelFormError, match="draws more than"):
        encode(svg(body), 48)


@pytest.mark.parametrize(
    ("body", "vb"),
    [
        ('<path d="M0 0 L1e308 0 L1 1Z"/>', "0 0 24 24"),  # was OverflowError
        (
            '<g transform="scale(1e200)"><rect width="1" height="1" transform="scale(1e200)"/></g>',
            "0 0 24 24",
        ),
        ('<rect width="1" height="1"/>', "0 0 1e-320 1e-320"),  # was ValueError (NaN)
        ('<path d="M0 0L5 5" stroke="#000" stroke-width="1e308"/>', "0 0 24 24"),
        ('<path d="M0 0L5 5" stroke="#000" stroke-dasharray="1e308 1"/>', "0 0 24 24"),
        ('<circle cx="1e308" cy="0" r="1e308"/>', "0 0 24 24"),
        ('<path d="M0 0A1e300 1e300 0 0 1 10 10" transform="scale(1e10)"/>', "0 0 24 24"),
    ],
)
def test_out_of_range_numbers_are_refused_with_the_forms_error(body: str, vb: str) -> None:
    with pytest.raises(ModelFormError, match="out of range"):
        encode(svg(body, vb), 48)


def test_tiny_arc_radii_are_drawn_as_the_renderer_draws_them() -> None:
    """Radii of 1e-300 overflowed squaring them; resvg draws radii up to 1e-5 as a straight line."""
    original = svg('<path d="M2 12A1e-300 1e-300 0 0 0 22 12" fill="none" stroke="#000" stroke-width="2"/>')
    after = rasterise(decode(encode(original, 48).text, FormSpec(48, 24.0)).svg)
    assert pixel_l2(rasterise(original), after) <= 0.002


def test_a_hostile_example_is_left_out_and_the_rest_converted() -> None:
    examples = [
        TrainExample("a line to infinity", svg('<path d="M0 0 L1e308 0 L1 1Z"/>')),
        TrainExample("a square", svg('<rect width="8" height="8"/>')),
    ]
    converted, failures = to_forms(examples, FormSpec(48, 24.0))
    assert [e.prompt for e in converted] == ["a square"]
    assert [f.index for f in failures] == [0] and "out of range" in failures[0].reason


EXTREME = st.sampled_from(
    ["1e308", "-1e308", "1e-320", "-1e-300", "1e200", "1e20", "0", "3", "-2.5", "nan", "inf"]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EXTREME, min_size=16, max_size=16), st.integers(0, 6))
def test_extreme_numbers_anywhere_are_only_ever_refused(n: list[str], which: int) -> None:
    """The class, not the examples: an extreme value in any number the encoder reads ends in a form or
    in ModelFormError/SvgError, never another exception."""
    bodies = [
        f'<path d="M{n[0]} {n[1]}C{n[2]} {n[3]} {n[4]} {n[5]} {n[6]} {n[7]}A{n[8]} {n[9]} {n[10]} 0 1 {n[11]} {n[12]}Z"/>',
        f'<g transform="matrix({n[0]} {n[1]} {n[2]} {n[3]} {n[4]} {n[5]})"><circle cx="{n[6]}" cy="{n[7]}" r="{n[8]}"/></g>',
        f'<rect x="{n[0]}" y="{n[1]}" width="{n[2]}" height="{n[3]}" rx="{n[4]}" transform="rotate({n[5]}) skewX({n[6]})"/>',
        f'<ellipse cx="{n[0]}" cy="{n[1]}" rx="{n[2]}" ry="{n[3]}" transform="scale({n[4]} {n[5]})" stroke="#000" stroke-width="{n[6]}"/>',
        f'<polyline points="{n[0]},{n[1]} {n[2]},{n[3]}" stroke="#000" stroke-dasharray="{n[4]} {n[5]}" opacity="{n[6]}"/>',
        f'<defs><path id="p" d="M0 0L{n[0]} {n[1]}"/></defs><use href="#p" x="{n[2]}" y="{n[3]}" stroke="#000"/>',
    ]
    with contextlib.suppress(ModelFormError, SvgError):
        if which == 6:  # the viewBox itself
            encode(svg('<rect width="1" height="1"/>', f"{n[12]} {n[13]} {n[14]} {n[15]}"), 48)
        else:
            encode(svg(bodies[which]), 48)
