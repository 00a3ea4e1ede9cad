"""normalise()/content_hash(): rounding, canonical spellings, and equal designs hashing equal."""

from __future__ import annotations

import hashlib

import pytest

from core.svg import clean_svg, content_hash, normalise
from core.svg.numbers import fmt_number
from core.svg.path_data import normalise_path, parse_path

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'


def doc(body: str, head: str = HEAD) -> str:
    return f"{head}{body}</svg>"


@pytest.mark.parametrize(
    ("x", "precision", "expected"),
    [
        (1.5, 2, "1.5"),
        (1.0, 2, "1"),
        (1.005001, 2, "1.01"),
        (-0.001, 2, "0"),
        (2.345, 0, "2"),
        (0.123456, 4, "0.1235"),
    ],
)
def test_fmt_number(x: float, precision: int, expected: str) -> None:
    assert fmt_number(x, precision) == expected


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        ("M 10.123 20.456 L 30 40 L 50 60 Z", "M10.12 20.46 30 40 50 60Z"),
        ("M10,20L30,40", "M10 20 30 40"),
        ("m1 2 3 4 l5 6", "m1 2 3 4 5 6"),
        ("M0 0H10V10H0z", "M0 0H10V10H0z"),
        ("M1-2-3.5.5", "M1-2-3.5 0.5"),
        ("M10 3a41 41 0 000 18", "M10 3a41 41 0 0 0 0 18"),
        ("M14 3a41 41 0 010 18", "M14 3a41 41 0 0 1 0 18"),
        ("M2 2a1 1 0 1 1 2 2a1 1 0 1,0 -2 -2", "M2 2a1 1 0 1 1 2 2 1 1 0 1 0-2-2"),
        ("M1e1 2E-1", "M10 0.2"),
    ],
)
def test_path_canonical_form(d: str, expected: str) -> None:
    assert normalise_path(d, 2) == expected
    assert normalise_path(expected, 2) == expected  # stable


@pytest.mark.parametrize("d", ["", "L1 2", "M1", "M1 2 Z 3", "M0 0 a1 1 0 2 0 1 1", "M0 0 C1 2 3"])
def test_invalid_path_data_is_detected_and_left_alone(d: str) -> None:
    assert parse_path(d) in (None, [])
    assert normalise_path(d, 2) == " ".join(d.split())


def test_numbers_are_rounded_everywhere() -> None:
    text = doc(
        '<g transform="translate(1.23456, 7.891) rotate(45.678)">'
        '<rect x="1.23456" y="0.10000" width="5.999" height="2e1" style="stroke-width:1.23456px"/>'
        '<polygon points="1.111,2.222 3.333,4.444"/><path d="M1.111 2.222L3.333 4.444"/></g>',
        head='<svg xmlns="http://www.w3.org/2000/svg" viewBox="0.001 0 100.004 99.999">',
    )
    out = normalise(text)
    assert 'viewBox="0 0 100 100"' in out
    assert 'transform="translate(1.23 7.89) rotate(45.68)"' in out
    assert all(s in out for s in ('x="1.23"', 'y="0.1"', 'width="6"', 'height="20"'))
    assert 'style="stroke-width:1.23px"' in out
    assert 'points="1.11,2.22 3.33,4.44"' in out
    assert 'd="M1.11 2.22 3.33 4.44"' in out  # implicit lineto after moveto


def test_precision_is_configurable() -> None:
    text = doc('<circle cx="1.23456" cy="2" r="3"/>')
    assert 'cx="1.2346"' in normalise(text, precision=4)
    assert 'cx="1"' in normalise(text, precision=0)
    with pytest.raises(ValueError):
        normalise(text, precision=-1)


def test_tiny_viewbox_is_not_rounded_to_nothing() -> None:
    out = normalise(
        doc('<circle r="0.001"/>', head='<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 0.004 0.004">')
    )
    assert 'viewBox="0 0 0.004 0.004"' in out


def test_comments_metadata_whitespace_and_prolog_are_dropped() -> None:
    text = (
        '<?xml version="1.0"?>\n<!-- made by hand -->\n'
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">\n  <metadata>x</metadata>\n'
        "  <!-- c -->\n  <g>\n    <rect width='1' height='1'/>\n  </g>\n"
        "  <title>  My\n  icon </title>\n</svg>\n"
    )
    assert normalise(text) == (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<g><rect height="1" width="1"/></g><title>My icon</title></svg>'
    )


def test_text_whitespace_collapses_unless_preserved() -> None:
    out = normalise(
        doc('<text>a \n\t b<tspan>  c </tspan>\u00a0 d</text><text xml:space="preserve">a  b</text>')
    )
    assert "<text>a b<tspan> c </tspan>\u00a0 d</text>" in out
    assert '<text xml:space="preserve">a  b</text>' in out


@pytest.mark.parametrize(
    "variant",
    [
        '<svg viewBox="0 0 24 24" xmlns="http://www.w3.org/2000/svg"><circle r="3.0" cy="2" cx="1"/></svg>',
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0,0,24,24'>\n  <circle cx='1.000' cy='+2' r='3.0001'/>\n</svg>",
        '<s:svg xmlns:s="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><s:circle cx="1" cy="2e0" r="3"></s:circle></s:svg>',
        '<?xml version="1.0"?><!-- x --><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24.0 24"><circle'
        ' cx="1" cy="2" r="3" onclick="x()"/></svg>',
    ],
)
def test_equivalent_spellings_hash_equal(variant: str) -> None:
    reference = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="1" cy="2" r="3"/></svg>'
    )
    assert content_hash(variant) == content_hash(reference)


def test_different_designs_hash_differently() -> None:
    base = doc('<path d="M1 2L3 4" fill="#AABBCC"/>')
    assert content_hash(base) == content_hash(base.replace("#AABBCC", "#aabbcc"))
    assert content_hash(base) != content_hash(base.replace("L3 4", "L3 4.1"))
    assert content_hash(base) != content_hash(base.replace("#AABBCC", "#aabbcd"))


def test_content_hash_is_sha256_of_the_normalised_text() -> None:
    text = doc('<rect width="1.0" height="2.00"/>')
    expected = hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
    assert content_hash(text) == expected
    assert clean_svg(text).content_hash == expected
    assert clean_svg(text).svg == normalise(text)


def test_xlink_href_and_href_hash_equal() -> None:
    a = doc('<rect id="r"/><use xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="#r"/>')
    b = doc('<rect id="r"/><use href="#r"/>')
    assert content_hash(a) == content_hash(b)


def test_css_is_canonical() -> None:
    a = doc(
        '<style>.a { fill : RED ; stroke:#ABC }</style><rect class="a" style="fill: red; opacity: 0.50"/>'
    )
    b = doc('<style>.a{stroke:#abc;fill:RED}</style><rect style="opacity:.5;fill:red" class="a"/>')
    assert normalise(a) == normalise(b)
