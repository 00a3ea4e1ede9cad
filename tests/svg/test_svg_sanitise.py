"""sanitise(): allow-listed elements/attributes/values survive, everything else is removed and reported."""

from __future__ import annotations

import pytest
from svg_test_helpers import assert_clean

from core.svg import SvgError, clean_svg, sanitise

HEAD = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"'
)


def doc(body: str, root_attrs: str = "") -> str:
    return f"{HEAD}{root_attrs}>{body}</svg>"


def test_removal_messages_are_human_readable() -> None:
    result = sanitise(doc('<script>alert(1)</script><rect width="1" height="1"/>', ' onload="x()"'))
    assert "removed element <script>" in result.removals
    assert "removed attribute onload on <svg>" in result.removals
    assert "<script" not in result.svg and "onload" not in result.svg
    assert '<rect height="1" width="1"/>' in result.svg
    assert result.changed


def test_clean_input_has_no_removals() -> None:
    result = sanitise(doc('<g fill="#fff"><circle cx="1" cy="2" r="3"/></g>'))
    assert result.removals == ()
    assert not result.changed
    assert '<circle cx="1" cy="2" r="3"/>' in result.svg


def test_output_uses_default_namespace_and_sorted_attributes() -> None:
    text = '<s:svg xmlns:s="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><s:rect y="2" x="1" width="3"/></s:svg>'
    out = sanitise(text).svg
    assert out.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">')
    assert '<rect width="3" x="1" y="2"/>' in out
    assert "s:" not in out and "ns0" not in out


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "data:image/svg+xml,&lt;svg/&gt;",
        "http://example.com/a.svg#x",
        "file.svg#x",
        "//example.com/#x",
        "#x y",
    ],
)
def test_only_same_document_hrefs_survive(href: str) -> None:
    for attr in ("href", "xlink:href"):
        result = sanitise(doc(f'<rect id="x"/><use {attr}="{href}"/>'))
        assert "href" not in result.svg
        assert any("href on <use>" in r for r in result.removals)


def test_same_document_href_survives_and_xlink_becomes_href() -> None:
    result = sanitise(doc('<rect id="x"/><use xlink:href="#x"/><use href=" #x "/>'))
    assert result.removals == ()
    assert result.svg.count('<use href="#x"/>') == 2


def test_plain_href_wins_over_xlink_href() -> None:
    result = sanitise(doc('<rect id="a"/><rect id="b"/><use xlink:href="#b" href="#a"/>'))
    assert '<use href="#a"/>' in result.svg
    assert any("duplicate" in r for r in result.removals)


def test_anchor_becomes_group_and_keeps_its_drawing() -> None:
    result = sanitise(doc('<a href="javascript:x()" fill="red"><rect width="1" height="1"/></a>'))
    assert '<g fill="red"><rect height="1" width="1"/></g>' in result.svg
    assert "replaced element <a> with <g>" in result.removals


@pytest.mark.parametrize(
    "element",
    [
        "<foreignObject><div xmlns='http://www.w3.org/1999/xhtml'>x</div></foreignObject>",
        "<animate attributeName='href' to='javascript:x'/>",
        "<set attributeName='onclick' to='x()'/>",
        "<animateTransform attributeName='transform'/>",
        "<image href='http://example.com/a.png'/>",
        "<iframe src='x'/>",
        "<metadata><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/></metadata>",
        "<h:script xmlns:h='http://www.w3.org/1999/xhtml'>x</h:script>",
    ],
)
def test_disallowed_elements_are_removed_with_their_content(element: str) -> None:
    result = sanitise(doc(element + '<rect width="1" height="1"/>'))
    assert result.svg == doc('<rect height="1" width="1"/>').replace(
        ' xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    )
    assert len(result.removals) == 1 and result.removals[0].startswith("removed element <")


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("fill", "url(http://x/#a)"),
        ("fill", "url(javascript:alert(1))"),
        ("fill", "url(data:image/png;base64,AAAA)"),
        ("clip-path", "url(x.svg#c)"),
        ("mask", "expression(alert(1))"),
        ("stroke-width", "1;background:url(x)"),
        ("transform", "rotate(45) url(x)"),
        ("d", "M0 0 &lt;script&gt;"),
        ("font-family", "x;behavior:url(a.htc)"),
        ("id", 'a" onload="x'),
        ("class", "a{b}"),
    ],
)
def test_attribute_values_outside_their_grammar_are_removed(attr: str, value: str) -> None:
    result = sanitise(doc(f'<path {attr}="{value.replace(chr(34), "&quot;")}"/>'))
    assert f"removed attribute {attr} on <path>: value not allowed" in result.removals
    assert f"{attr}=" not in result.svg


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("fill", "url(#g)"),
        ("fill", "url('#g') red"),
        ("fill", "rgb(10, 20%, 30)"),
        ("stroke", "#ABCDEF"),
        ("clip-path", "url(#c)"),
        ("transform", "translate(1,2) rotate(45 1 1) matrix(1 0 0 1 0 0)"),
        ("stroke-dasharray", "4 2, 1"),
        ("font-family", "'DejaVu Sans', sans-serif"),
        ("opacity", ".5"),
        ("d", "M0 0a1 1 0 0010 10z"),
    ],
)
def test_legitimate_values_survive(attr: str, value: str) -> None:
    result = sanitise(doc(f'<path {attr}="{value}"/>'))
    assert result.removals == ()
    assert f'{attr}="{value}"' in result.svg.replace("&quot;", '"')


def test_style_attribute_is_rebuilt_from_allowed_properties() -> None:
    result = sanitise(
        doc(
            '<rect style="stroke: red; behavior: url(x.htc); fill:url(javascript:x); -moz-binding:url(y); opacity:.5"/>'
        )
    )
    assert 'style="opacity:.5;stroke:red"' in result.svg
    assert "removed CSS property behavior in style on <rect>" in result.removals
    assert "removed CSS property fill in style on <rect>: value not allowed" in result.removals
    assert "removed CSS property -moz-binding in style on <rect>" in result.removals


def test_css_escapes_are_refused() -> None:
    result = sanitise(doc(r'<rect style="fill: \75rl(javascript:x); stroke: blue"/>'))
    assert 'style="stroke:blue"' in result.svg
    assert_clean(result.svg)


def test_style_element_keeps_plain_rules_only() -> None:
    css = (
        "@import url(x.css); /* c */ .a { fill: red; behavior: url(x) } @media print { rect { fill: blue } }"
        " rect > circle{stroke:url(#g)} x{fill:expression(alert(1))} y\\{ {fill:red}"
    )
    result = sanitise(doc(f"<style>{css}</style>"))
    assert "<style>.a{fill:red}rect &gt; circle{stroke:url(#g)}</style>" in result.svg
    assert "removed CSS at-rule @import in <style>" in result.removals
    assert "removed CSS at-rule @media in <style>" in result.removals
    assert_clean(result.svg)


def test_text_content_and_tails_survive_inside_text() -> None:
    result = sanitise(doc('<text x="1" y="2">a <tspan>b</tspan> c<script>x</script> d</text>'))
    assert '<text x="1" y="2">a <tspan>b</tspan> c d</text>' in result.svg


def test_stray_text_outside_text_elements_is_removed() -> None:
    result = sanitise(doc('javascript:alert(1)<g>junk<rect width="1"/>more</g>'))
    assert "junk" not in result.svg and "more" not in result.svg and "javascript" not in result.svg
    assert "removed text content in <svg>" in result.removals


def test_sanitise_is_idempotent_on_a_messy_document() -> None:
    messy = doc(
        '<a href="javascript:x"><rect style="fill:red;;stroke : blue !important;fill:green" onclick="x"/></a>'
        "<style>rect{fill:red} @import 'x';</style><text>  a\n b </text>"
    )
    once = sanitise(messy)
    twice = sanitise(once.svg)
    assert twice.svg == once.svg
    assert twice.removals == ()


def test_sanitise_refuses_unparseable_input() -> None:
    with pytest.raises(SvgError):
        sanitise("<svg")


def test_removal_list_is_capped() -> None:
    body = "".join(f'<rect onclick="x{i}"/>' for i in range(500))
    result = sanitise(doc(body))
    assert len(result.removals) == 201
    assert result.removals[-1] == "… and 300 more removals"


def test_ordinary_text_is_kept_and_markup_like_text_is_removed_once() -> None:
    ordinary = (
        (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><title>Sale: 3 < 5, price > 2 &amp; on time'
            '</title><text x="1" y="5">Tom &amp; Jerry &lt; 3</text><rect width="5" height="5"/></svg>'
        )
        .replace("< 5", "&lt; 5")
        .replace("> 2", "&gt; 2")
    )
    kept = clean_svg(ordinary)
    assert kept.removals == ()
    assert "<title>Sale: 3 &lt; 5, price &gt; 2 &amp; on time</title>" in kept.svg
    hostile = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        "<title>Hi &lt;img src=x onerror=alert(1)&gt; there&lt;</title><rect width='5' height='5'/></svg>"
    )
    cleaned = clean_svg(hostile)
    assert "<title>Hi there</title>" in cleaned.svg
    assert cleaned.removals == ("removed markup-like text in <title>",)
    assert clean_svg(cleaned.svg).removals == () and clean_svg(cleaned.svg).svg == cleaned.svg
