"""Property-based tests over generated SVG documents (benign and hostile, in many spellings)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from svg_test_helpers import El, assert_clean, svg_documents, write_svg

from core.svg import SvgError, clean_svg, content_hash, normalise, parse_svg, sanitise

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


@PROPS
@given(svg_documents(hostile=True), seeds)
def test_sanitise_is_idempotent_and_output_is_clean(doc: El, seed: int) -> None:
    once = sanitise(write_svg(doc, seed))
    parse_svg(once.svg)
    assert_clean(once.svg, include_text=False)
    twice = sanitise(once.svg)
    assert twice.svg == once.svg
    assert twice.removals == ()


@PROPS
@given(svg_documents(hostile=True), seeds)
def test_normalise_is_idempotent_and_output_parses(doc: El, seed: int) -> None:
    once = normalise(write_svg(doc, seed))
    parse_svg(once)
    assert_clean(once, include_text=False)
    assert normalise(once) == once
    assert sanitise(once).removals == ()


@PROPS
@given(svg_documents(hostile=False), seeds, seeds)
def test_equivalent_spellings_hash_equal(doc: El, seed_a: int, seed_b: int) -> None:
    a = write_svg(doc, seed_a, xlink_href=True)
    b = write_svg(doc, seed_b, xlink_href=False)
    assert normalise(a) == normalise(b)
    assert content_hash(a) == content_hash(b)


@PROPS
@given(svg_documents(hostile=False), seeds)
def test_benign_documents_lose_nothing(doc: El, seed: int) -> None:
    assert sanitise(write_svg(doc, seed)).removals == ()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_or_comes_out_parseable(text: str) -> None:
    wrapped = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">{text}</svg>'
    for candidate in (text, wrapped):
        try:
            out = clean_svg(candidate).svg
        except SvgError:
            continue
        parse_svg(out)
        assert normalise(out) == out
