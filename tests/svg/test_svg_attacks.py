"""The attack corpus: every file is either refused or comes out clean (and stays clean on a second pass)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from svg_test_helpers import ATTACKS, assert_clean, unsafe_reasons

from core.svg import SvgError, clean_svg, parse_svg, sanitise, validate_svg

# These must never be "cleaned": the XML itself is the attack, or the document is unusable.
MUST_REFUSE = {
    "17-xxe-system-entity.svg",
    "18-billion-laughs.svg",
    "19-external-dtd.svg",
    "20-parameter-entity.svg",
    "52-use-bomb.svg",
    "53-use-cycle.svg",
    "55-deep-nesting.svg",
    "56-not-svg-root.svg",
    "57-no-viewbox.svg",
}
# Dropped by the XML parser itself (processing instructions), so there is nothing left to report.
SILENTLY_CLEAN = {"38-xml-stylesheet-pi.svg"}


def test_corpus_is_big_enough_and_really_hostile() -> None:
    assert len(ATTACKS) >= 40
    names = {p.name for p in ATTACKS}
    assert names >= MUST_REFUSE and names >= SILENTLY_CLEAN
    # The checker itself must see the attacks in the raw files, or "comes out clean" means nothing.
    hostile = [p.name for p in ATTACKS if unsafe_reasons(p.read_text())]
    assert len(hostile) >= 40


@pytest.mark.parametrize("path", ATTACKS, ids=lambda p: p.name)
def test_attack_is_refused_or_cleaned(path: Path) -> None:
    text = path.read_text()
    if path.name in MUST_REFUSE:
        with pytest.raises(SvgError):
            clean_svg(text)
        assert not validate_svg(text).ok
        return
    cleaned = clean_svg(text)
    assert_clean(cleaned.svg)
    if path.name not in SILENTLY_CLEAN:
        assert cleaned.removals, "something hostile should have been removed and reported"
    # Clean output re-parses, and is already clean: a second pass removes nothing.
    parse_svg(cleaned.svg)
    again = sanitise(cleaned.svg)
    assert again.removals == ()
    assert again.svg == cleaned.svg
    # The non-normalising path is just as safe.
    assert_clean(sanitise(text).svg)


@pytest.mark.parametrize(
    "name", sorted(n for n in MUST_REFUSE if n.split("-")[0] in {"17", "18", "19", "20"})
)
def test_dtd_attacks_are_refused_by_the_parser(name: str) -> None:
    path = next(p for p in ATTACKS if p.name == name)
    with pytest.raises(SvgError, match="DOCTYPE"):
        parse_svg(path.read_text())


# The text policy (core.svg.sanitise): text that a consumer might show as HTML (a title as a tooltip through
# innerHTML) never reads as markup, an event handler or a script URL, whichever file it came from.
_MARKUP_IN_TEXT = re.compile(r"<[a-zA-Z/!?]|\bon[a-z]+\s*=|javascript\s*:", re.IGNORECASE)
TEXT_ATTACKS = {
    "61-title-escaped-img-onerror.svg",
    "62-desc-cdata-and-comment-markup.svg",
    "63-text-markup-split-across-tspans.svg",
    "64-title-with-child-elements-and-handlers.svg",
}


@pytest.mark.parametrize("path", [p for p in ATTACKS if p.name not in MUST_REFUSE], ids=lambda p: p.name)
def test_text_content_never_reads_as_markup(path: Path) -> None:
    root = ET.fromstring(clean_svg(path.read_text()).svg)
    for el in root.iter():
        if el.tag.split("}")[-1] in ("title", "desc", "text", "tspan"):
            text = "".join(el.itertext())  # what textContent gives a consumer, tspans joined
            assert not _MARKUP_IN_TEXT.search(text), (path.name, text)


def test_the_text_attacks_are_in_the_corpus_and_really_carry_markup_as_text() -> None:
    by_name = {p.name: p for p in ATTACKS}
    assert set(by_name) >= TEXT_ATTACKS
    for name in TEXT_ATTACKS:
        raw = ET.fromstring(by_name[name].read_text())
        text = " ".join("".join(el.itertext()) for el in raw.iter() if el.tag.split("}")[-1] != "svg")
        assert _MARKUP_IN_TEXT.search(text), name
        assert any("markup-like text" in r for r in clean_svg(by_name[name].read_text()).removals), name
