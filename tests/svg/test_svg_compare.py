"""Designs compared as pictures: each figure on hand-made pairs."""

from __future__ import annotations

import pytest

from core.svg.compare import (
    balanced_iou,
    blank_raster,
    consensus_order,
    degenerate_reason,
    ink_iou,
    paper_iou,
    pixel_l2,
    rasterise,
    try_rasterise,
)

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#000" stroke-width="2">'
    '<path d="M4 12h16M12 4v16"/></svg>'
)
OTHER = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="4" cy="4" r="2"/></svg>'
FILLED = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24"/></svg>'
EMPTY = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" fill="#fff"/></svg>'


def test_identical_designs_have_iou_one_and_no_l2() -> None:
    a, b = rasterise(ICON), rasterise(ICON)
    assert ink_iou(a, b) == 1.0 and pixel_l2(a, b) == 0.0


def test_blank_against_an_icon_has_iou_zero_and_l2_of_its_ink() -> None:
    icon = rasterise(ICON)
    assert ink_iou(blank_raster(), icon) == 0.0
    expected = float(((1.0 - icon.grey) ** 2).mean())
    assert pixel_l2(blank_raster(), icon) == pytest.approx(expected) and expected > 0.01


def test_two_empty_designs_agree_completely() -> None:
    assert ink_iou(blank_raster(), rasterise(EMPTY)) == 1.0


def test_disjoint_designs_have_iou_zero_and_ink_is_dilated() -> None:
    assert ink_iou(rasterise(ICON), rasterise(OTHER)) == 0.0
    # Drawn a pixel off (0.375 units at 64 px): the dilated inks still mostly overlap, undilated ones less.
    a, b = rasterise(ICON), rasterise(ICON.replace("M4 12h16M12 4v16", "M4 12.375h16M12.375 4v16"))
    undilated = ((a.grey < 0.5) & (b.grey < 0.5)).sum() / ((a.grey < 0.5) | (b.grey < 0.5)).sum()
    assert ink_iou(a, b) > 0.75 > undilated


def test_degenerate_designs() -> None:
    assert degenerate_reason(rasterise(FILLED)) == "filled"
    assert degenerate_reason(rasterise(EMPTY)) == "blank"
    assert degenerate_reason(try_rasterise("<svg>not closed")) == "unrenderable"
    assert degenerate_reason(rasterise(ICON)) == ""


def _square(x: int, y: int, size: int = 8) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
        f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="#000"/></svg>'
    )


def test_consensus_puts_the_candidate_most_like_the_others_first() -> None:
    # Three squares near the centre agree; the one in the corner does not; the middle one of the three
    # overlaps both others most. A blank and an unparsable candidate come last, in their own order.
    candidates = [
        _square(0, 0),
        "not svg",
        _square(9, 8),
        _square(8, 8),
        _square(7, 8),
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"/>',
    ]
    order = consensus_order(candidates)
    assert order[0] == 3
    assert set(order[1:3]) == {2, 4} and order[3] == 0
    assert order[4:] == [1, 5]


def test_consensus_of_fewer_than_three_keeps_their_order() -> None:
    assert consensus_order([_square(0, 0), _square(8, 8)]) == [0, 1]
    assert consensus_order(["", _square(8, 8)]) == [1, 0]


def test_balanced_iou_is_one_for_the_same_icon_and_at_most_a_half_for_a_blob_or_nothing() -> None:
    icon, filled = rasterise(ICON), rasterise(FILLED)
    assert balanced_iou(icon, rasterise(ICON)) == 1.0 and paper_iou(icon, rasterise(ICON)) == 1.0
    # A filled canvas covers all of an outline icon's ink (ink IoU = its ink share) but none of its paper.
    assert ink_iou(filled, icon) > 0 and paper_iou(filled, icon) == 0.0
    assert balanced_iou(filled, icon) <= 0.55 and balanced_iou(icon, filled) == balanced_iou(filled, icon)
    # Drawing nothing keeps the paper but none of the ink.
    assert balanced_iou(blank_raster(), icon) <= 0.5 and ink_iou(blank_raster(), icon) == 0.0
    assert balanced_iou(blank_raster(), rasterise(EMPTY)) == 1.0


def test_a_filled_canvas_no_longer_flatters_a_filled_icon() -> None:
    # A filled page icon (a sheet with a folded corner and two white lines): a canvas painted black
    # covers all its ink, so ink IoU rates the blob highly; the balanced score halves it.
    page = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
        '<path d="M3 1h12l6 6v16H3z"/><path d="M7 12h10M7 16h10" stroke="#fff" stroke-width="1.5"/></svg>'
    )
    blob, ref = rasterise(FILLED), rasterise(page)
    assert ink_iou(blob, ref) > 0.6
    assert balanced_iou(blob, ref) <= 0.5 and balanced_iou(ref, rasterise(page)) == 1.0
