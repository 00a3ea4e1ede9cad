"""parse_svg: refuses DTDs/entities, oversize, wrong root, missing viewBox; accepts normal SVG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.svg import MAX_SVG_BYTES, SvgError, parse_svg

OK = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="1" height="1"/></svg>'


def test_parses_str_and_bytes() -> None:
    assert parse_svg(OK).tag == "{http://www.w3.org/2000/svg}svg"
    assert len(parse_svg(OK.encode("utf-8"))) == 1


def test_prefixed_svg_root_is_accepted() -> None:
    text = '<s:svg xmlns:s="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><s:rect/></s:svg>'
    assert parse_svg(text).tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('<!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>', "DOCTYPE"),
        (
            '<!DOCTYPE svg [<!ENTITY e "x">]><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">&e;</svg>',
            "DOCTYPE",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect></svg>', "not well-formed"),
        ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "root element must be <svg>"),
        ('<svg xmlns="http://www.w3.org/1999/xhtml" viewBox="0 0 1 1"/>', "root element must be <svg>"),
        ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "must have a viewBox"),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 0 10"/>', "positive width and height"),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10"/>', "four numbers"),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="a b c d"/>', "four numbers"),
        ("", "empty"),
        ("   \n", "empty"),
    ],
)
def test_refusals_have_clear_messages(text: str, message: str) -> None:
    with pytest.raises(SvgError, match=message):
        parse_svg(text)


def test_size_cap() -> None:
    head = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    filler = "<!--" + "x" * (MAX_SVG_BYTES - len(head) - 20) + "-->"
    just_under = head + filler + "</svg>"
    assert len(just_under.encode()) <= MAX_SVG_BYTES
    parse_svg(just_under)
    with pytest.raises(SvgError, match="limit"):
        parse_svg(head + filler + " " * 100 + "</svg>")
    with pytest.raises(SvgError, match="limit"):
        parse_svg(OK, max_bytes=10)


def test_depth_cap() -> None:
    deep = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">' + "<g>" * 150 + "</g>" * 150 + "</svg>"
    )
    with pytest.raises(SvgError, match="nested"):
        parse_svg(deep)
    shallow = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">' + "<g>" * 50 + "</g>" * 50 + "</svg>"
    )
    parse_svg(shallow)


def test_svg_package_imports_no_django() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys, core.svg; bad = [m for m in sys.modules if m.split('.')[0] == 'django']; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
