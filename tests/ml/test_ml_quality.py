"""The real-data evaluation: baselines, copies, diversity and strata, computed with a fake model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from slm.quality.designs import QualityConfig, Reference, evaluate_quality, name_words, retrieve, summary_line

ROOT = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#000" stroke-width="2">'
)


def icon(d: str) -> str:
    return f'{ROOT}<path d="{d}"/></svg>'


TRAIN = [
    Reference("arrow down icon; tags: direction", icon("M12 4v16M6 14l6 6 6-6")),
    Reference("arrow up icon; tags: direction", icon("M12 20V4M6 10l6-6 6 6")),
    Reference("circle icon; tags: shape", icon("M12 4a8 8 0 1 0 0.01 0")),
    Reference("square icon; tags: shape", icon("M4 4h16v16H4z")),
]
TEST = [
    Reference("arrow down left icon; tags: direction", icon("M12 4v16M6 14l6 6")),
    Reference("square dashed icon", icon("M4 4h4M12 4h4M4 12v4")),
]


def perfect(refs: Sequence[Reference], n: int, temperature: float, seed: int) -> list[list[str]]:
    """A model that always draws the reference (and varies nothing)."""
    by_prompt = {r.prompt: r.svg for r in TRAIN + TEST}
    return [[by_prompt[r.prompt]] * n for r in refs]


def blank(refs: Sequence[Reference], n: int, temperature: float, seed: int) -> list[list[str]]:
    return [[""] * n for _ in refs]


def test_names_and_retrieval() -> None:
    assert name_words("Arrow-Down left icon; tags: x") == {"arrow", "down", "left"}
    words = [name_words(r.prompt) for r in TRAIN]
    assert retrieve(TEST[0].prompt, words) == 0 and retrieve(TEST[1].prompt, words) == 3


def test_a_perfect_model_against_the_baselines() -> None:
    report = evaluate_quality(perfect, TRAIN, TEST, config=QualityConfig(seed=1))
    m = report.metrics
    assert m["iou"] == 1.0 and m["l2"] == 0.0 and m["train_iou"] == 1.0 and m["valid_nondegenerate"] == 1.0
    assert m["biou"] == 1.0 and m["greedy_valid"] == 1.0
    assert m["blank_iou"] == 0.0 and m["blank_l2"] > 0 and 0 < m["blank_biou"] <= 0.5
    assert 0 < m["random_biou"] < 1 and 0 < m["retrieval_biou"] < 1
    assert 0 < m["retrieval_iou"] < 1 and 0 <= m["random_iou"] < 1
    assert m["copy_rate"] == 0.0 and m["diversity"] == 1.0
    assert {"low", "medium", "high"} >= set(report.strata) and sum(
        s["n"] for s in report.strata.values()
    ) == 2
    assert len(report.gallery) == 2 and report.gallery[0].reference_svg == report.gallery[0].svg


def test_a_model_that_draws_nothing_is_all_degenerate() -> None:
    m = evaluate_quality(blank, TRAIN, TEST).metrics
    assert m["iou"] == 0.0 and m["valid_nondegenerate"] == 0.0 and m["degenerate_unrenderable"] == 1.0
    assert m["biou"] == pytest.approx(m["blank_biou"]) and m["biou"] <= 0.5 and m["greedy_valid"] == 0.0
    assert m["l2"] == pytest.approx(m["blank_l2"])


def test_copies_are_counted() -> None:
    def copier(refs: Sequence[Reference], n: int, temperature: float, seed: int) -> list[list[str]]:
        return [[TRAIN[0].svg] * n for _ in refs]

    m = evaluate_quality(copier, TRAIN, TEST).metrics
    assert m["copy_rate"] == 1.0 and m["train_iou"] < 1.0


def test_summary_line() -> None:
    line = summary_line({"valid_nondegenerate": 1, "iou": 0.5, "biou": 0.25}, steps=7)
    assert line.startswith("valid_nondegenerate=1.0000 iou=0.5000 l2=0.0000") and line.endswith(" steps=7")
    assert [part.split("=")[0] for part in line.split()] == [
        "valid_nondegenerate",
        "iou",
        "l2",
        "blank_l2",
        "random_iou",
        "retrieval_iou",
        "train_iou",
        "biou",
        "random_biou",
        "retrieval_biou",
        "greedy_valid",
        "steps",
    ]
    assert " biou=0.2500 " in line


def test_greedy_decodes_are_scored_beside_the_chosen_designs() -> None:
    # The designs (here perfect) come from a consensus; the greedy decodes (here nothing) are scored
    # apart, so the two can be compared; without `greedy` no *_greedy figure is reported.
    m = evaluate_quality(perfect, TRAIN, TEST, greedy=blank).metrics
    assert m["iou"] == 1.0 and m["train_iou"] == 1.0
    assert m["iou_greedy"] == 0.0 and m["train_iou_greedy"] == 0.0 and m["valid_nondegenerate_greedy"] == 0.0
    # The consensus (valid everywhere) no longer hides greedy decodes that are never valid.
    assert m["valid_nondegenerate"] == 1.0 and m["greedy_valid"] == 0.0
    assert "iou_greedy" not in evaluate_quality(perfect, TRAIN, TEST).metrics
