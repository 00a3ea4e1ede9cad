"""Caps on what one document may cost: stylesheet rules, selectors and declarations, and the magnitude of
numbers in coordinates, lengths and transforms. Each refused with its reason, through every entry point
(clean_svg, sanitise, validate_svg)."""

from __future__ import annotations

import re

import pytest

from core.svg import SvgError, clean_svg, sanitise, validate_svg

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
SHAPE = '<circle class="c1" cx="12" cy="12" r="5"/>'


def doc(body: str) -> str:
    return f"{HEAD}{body}</svg>"


def _refused(text: str, reason: str) -> None:
    for entry in (clean_svg, sanitise):
        with pytest.raises(SvgError, match=reason):
            entry(text)
    report = validate_svg(text)
    assert not report.ok and any(re.search(reason, e) for e in report.errors), report.errors


@pytest.mark.parametrize(
    ("css", "reason"),
    [
        ("".join(f".c{i}{{fill:red}}" for i in range(30_000)), "30,000 rules; the limit is 256"),
        (
            "".join(",".join(f".c{r}-{i}" for i in range(10)) + "{fill:red}" for r in range(200)),
            "2,000 selectors; the limit is 1,024",
        ),
        (".c1{" + "fill:red;" * 5_000 + "}", "declarations; the limit is 4,096"),
        (".c1 " + "g " * 400 + "{fill:red}", "selector is 803 characters long"),
    ],
    ids=["rules", "selectors", "declarations", "long-selector"],
)
def test_stylesheets_past_the_caps_are_refused_with_the_reason(css: str, reason: str) -> None:
    _refused(doc(f"<style>{css}</style>{SHAPE}"), reason)


def test_rules_spread_over_many_style_elements_count_together() -> None:
    styles = "".join(f"<style>.c{i}{{fill:red}}</style>" for i in range(300))
    _refused(doc(styles + SHAPE), "300 rules")


def test_style_attributes_count_toward_the_declarations() -> None:
    shapes = "".join(f'<circle style="{"fill:red;" * 50}" r="1"/>' for _ in range(100))
    _refused(doc(shapes), "declarations; the limit is 4,096")


@pytest.mark.parametrize(
    "shape",
    [
        '<circle cx="1e308" cy="12" r="5"/>',
        '<rect x="0" y="0" width="1e7" height="1"/>',
        '<path d="M0 0L1e308 1e308Z"/>',
        '<polygon points="0,0 10,0 0,99999999999"/>',
        '<g transform="scale(1e300)"><circle r="1"/></g>',
        '<circle r="1" style="stroke-width:1e400"/>',
        '<circle cx="12" cy="12" r="Infinity"/>',
        '<circle cx="12" cy="12" r="NaN"/>',
    ],
    ids=["cx", "width", "path", "points", "transform", "css-length", "infinity", "nan"],
)
def test_numbers_beyond_the_bound_or_not_finite_are_refused(shape: str) -> None:
    _refused(doc(shape), "Numbers out of range")


def test_a_huge_view_box_is_refused() -> None:
    text = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1e9 1e9"><circle r="1"/></svg>'
    _refused(text, "Numbers out of range: <svg> viewBox")


def test_ordinary_documents_and_stylesheets_pass() -> None:
    css = "".join(f".c{i},.d{i}{{fill:#f00;stroke-width:2}}" for i in range(200))
    out = clean_svg(doc(f"<style>{css}</style>{SHAPE}" + '<path d="M-1000 5e3L1e-9 0.5Z"/>'))
    assert ".c199,.d199{" in out.svg
    assert sanitise(doc('<rect width="999999" height="24"/>')).svg
