"""validate_svg(): per-design report (never raises), structural limits, colours and counts."""

from __future__ import annotations

import pytest

from core.svg import MAX_RENDERED_ELEMENTS, SvgError, ValidationReport, clean_svg, validate_svg

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'


def doc(body: str) -> str:
    return f"{HEAD}{body}</svg>"


def test_report_for_a_good_design() -> None:
    report = validate_svg(
        doc(
            '<defs><linearGradient id="g"><stop stop-color="#FF0000"/></linearGradient></defs>'
            '<rect fill="url(#g)" stroke="blue"/><circle r="1" style="fill: #00ff00"/><path d="M0 0h1" fill="none"/>'
            "<style>.x{stroke:currentColor}</style>"
        )
    )
    assert isinstance(report, ValidationReport)
    assert report.ok and report.errors == () and report.warnings == ()
    assert report.element_counts == {
        "circle": 1,
        "defs": 1,
        "linearGradient": 1,
        "path": 1,
        "rect": 1,
        "stop": 1,
        "style": 1,
        "svg": 1,
    }
    assert report.colours == ("#00ff00", "#ff0000", "blue", "currentcolor")
    assert report.as_dict()["colours"] == ["#00ff00", "#ff0000", "blue", "currentcolor"]


def test_parse_errors_are_reported_not_raised() -> None:
    report = validate_svg("<svg")
    assert not report.ok
    assert report.errors and "well-formed" in report.errors[0]
    report = validate_svg('<!DOCTYPE x><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>')
    assert not report.ok and "DOCTYPE" in report.errors[0]


def test_nothing_to_draw_is_an_error() -> None:
    for body in ("", "<g/>", '<defs><rect width="1" height="1"/></defs>', "<script>x</script>"):
        report = validate_svg(doc(body))
        assert not report.ok, body
        assert "nothing to draw" in report.errors[0]
        with pytest.raises(SvgError, match="nothing to draw"):
            clean_svg(doc(body))


def test_removals_are_reported_and_strict_mode_makes_them_errors() -> None:
    text = doc('<rect width="1" height="1" onclick="x()"/>')
    lenient = validate_svg(text)
    assert lenient.ok and lenient.removals == ("removed attribute onclick on <rect>",)
    strict = validate_svg(text, strict=True)
    assert not strict.ok
    assert strict.errors == ("unsafe or unsupported content: removed attribute onclick on <rect>",)


def test_dangling_references_and_duplicate_ids_are_warnings() -> None:
    report = validate_svg(doc('<rect id="a" fill="url(#missing)"/><rect id="a"/><use href="#nope"/>'))
    assert report.ok
    assert "duplicate id 'a'" in report.warnings
    assert "<rect> references #missing, which does not exist" in report.warnings
    assert "<use> references #nope, which does not exist" in report.warnings


def test_broken_path_data_is_a_warning() -> None:
    report = validate_svg(doc('<path d="M0 0 L1"/>'))
    assert report.ok
    assert any("invalid or empty path data" in w for w in report.warnings)


def _use_tree(levels: int, fan_out: int) -> str:
    parts = ['<defs><g id="l0"><rect width="1" height="1"/></g>']
    for i in range(1, levels + 1):
        parts.append(f'<g id="l{i}">' + f'<use href="#l{i - 1}"/>' * fan_out + "</g>")
    parts.append(f'</defs><use href="#l{levels}"/>')
    return doc("".join(parts))


def test_use_expansion_is_capped() -> None:
    assert validate_svg(_use_tree(3, 10)).ok  # ~2k rendered elements: fine
    report = validate_svg(_use_tree(6, 10))  # ~2M rendered elements
    assert not report.ok
    assert f"more than {MAX_RENDERED_ELEMENTS:,}" in report.errors[0]


@pytest.mark.parametrize(
    "body",
    [
        '<g id="a"><use href="#a"/></g>',
        '<use id="u" href="#u"/>',
        '<defs><g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g></defs><use href="#a"/>',
    ],
)
def test_use_cycles_are_errors(body: str) -> None:
    report = validate_svg(doc(body))
    assert not report.ok
    assert any("loop" in e for e in report.errors)


def test_element_cap() -> None:
    report = validate_svg(doc('<rect width="1" height="1"/>' * 20_001))
    assert not report.ok
    assert any("elements; the limit is" in e for e in report.errors)
