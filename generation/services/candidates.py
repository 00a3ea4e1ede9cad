"""A request's candidates: cleaned through core.svg, de-duplicated, styled and checked, in order, until the
request has its `count` designs; what is dropped is kept with its reason. When too few candidates are
distinct (a confident model samples the same design again and again), more are drawn with new seeds, a
bounded number of times (GENERATION_EXTRA_DRAWS), and a request still short says so (`designs_short_by`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from catalog.style import check_compliance
from core.svg import SvgError, check_visible, clean_svg
from core.svg.compare import consensus_order
from generation.models import DesignOutput
from generation.styling import StyleResult, style_apply

GREEDY_SHORT = "Temperature 0 is deterministic: one distinct design. Use a temperature above 0 for more."


def candidates_per_request(*, count: int, temperature: float) -> int:
    if temperature <= 0:
        return 1  # greedy decoding: every candidate would be the same
    oversample = float(settings.GENERATION_OVERSAMPLE)
    return max(count, min(settings.GENERATION_MAX_CANDIDATES, round(count * oversample)))


def draw_seed(seed: int, draw: int) -> int:
    """The seed of a request's extra draw: a different stream of samples, the same for every run of it."""
    return seed if draw == 0 else (seed * 1_000_003 + draw * 7_919) % 2**31


@dataclass
class Design:
    candidate: int
    styled: StyleResult
    tokens: int
    removals: tuple[str, ...]
    compliance: list[str] = field(default_factory=list)


@dataclass
class Work:
    """One request's post-processing: its candidates (every draw's, numbered in the order drawn), what
    was kept and what was dropped, and why."""

    output: DesignOutput
    samples: list[Any] = field(default_factory=list)
    consensus: bool = False  # rank each draw's candidates by consensus (models that choose so)
    order: list[int] | None = None  # the candidates' order of preference, for models that choose so
    designs: list[Design] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    draws: list[dict[str, Any]] = field(default_factory=list)  # the extra draws: seed, candidates, stats
    seen: set[str] = field(default_factory=set)  # the content hashes of the candidates kept
    checked: int = 0  # how many of `samples` were checked

    @property
    def missing(self) -> int:
        return max(0, self.output.requested_count - len(self.designs))


def candidates_check(work: Work) -> None:
    """Check the candidates drawn since the last call (all of them, the first time)."""
    start, samples = work.checked, work.samples[work.checked :]
    if work.consensus:
        ranked = [start + i for i in consensus_order([getattr(s, "text", "") for s in samples])]
        work.order = (work.order or []) + ranked
    _check(work, range(start, start + len(samples)))
    work.checked = start + len(samples)


def candidates_fill(
    work: Work, *, temperature: float, draw: Callable[[int, int], tuple[list[Any], dict[str, Any]]]
) -> None:
    """Draw more candidates (`draw(n, seed)`) while the request is short of designs and sampling can give
    others, at most GENERATION_EXTRA_DRAWS times; then record what is still missing, and why."""
    seed = int(work.output.seed or 0)
    if temperature > 0:
        for n_draw in range(1, max(0, settings.GENERATION_EXTRA_DRAWS) + 1):
            if not work.missing:
                break
            n = candidates_per_request(count=work.missing, temperature=temperature)
            samples, stats = draw(n, draw_seed(seed, n_draw))
            work.draws.append({"seed": draw_seed(seed, n_draw), "candidates": n, **stats})
            work.samples.extend(samples)
            candidates_check(work)


def designs_short_by(work: Work, *, temperature: float) -> dict[str, Any] | None:
    """How many designs the request is short of, and why (None when it has them all)."""
    if not work.missing or not work.designs:
        return None
    if temperature <= 0:
        reason = GREEDY_SHORT
    else:
        why = Counter(d["reason"].split(":")[0] for d in work.dropped if d["reason"] != "not needed")
        reasons = ", ".join(f"{n} × {r}" for r, n in why.most_common())
        reason = (
            f"The model gave {len(work.designs)} distinct usable design(s) of the "
            f"{work.output.requested_count} asked for in {len(work.samples)} candidates "
            f"({1 + len(work.draws)} draw(s)){': ' + reasons if reasons else ''}."
        )
    return {"count": work.missing, "reason": reason}


def _check(work: Work, indices: range) -> None:
    """Clean, de-duplicate, style and check candidates until the request has its designs."""
    meta = work.output.prompt.metadata or {}
    rules = meta.get("style_rules") or {}
    palette = (meta.get("palette") or {}).get("colours") or []
    samples = work.samples
    # Finished candidates (ended with [eos]) first, then in consensus order (the one most like the
    # others first) for models that choose so, else in generation order.
    rank = {i: r for r, i in enumerate(work.order)} if work.order is not None else {}
    for i in sorted(indices, key=lambda i: (not getattr(samples[i], "finished", True), rank.get(i, i))):
        if not work.missing:
            work.dropped.append({"candidate": i, "reason": "not needed"})
            continue
        try:
            clean = clean_svg(samples[i].text)
        except SvgError as exc:
            work.dropped.append({"candidate": i, "reason": f"invalid SVG: {str(exc)[:200]}"})
            continue
        if clean.content_hash in work.seen:
            work.dropped.append({"candidate": i, "reason": "duplicate of an earlier candidate"})
            continue
        work.seen.add(clean.content_hash)
        try:
            styled = (
                style_apply(clean.svg, rules=rules, palette=palette)
                if (rules or palette)
                else StyleResult(clean)
            )
        except SvgError as exc:
            work.dropped.append({"candidate": i, "reason": f"style could not be applied: {str(exc)[:200]}"})
            continue
        try:  # blank, timeout, caps: the candidate is dropped, with the reason
            check_visible(styled.clean.svg, size=settings.GENERATION_PNG_SIZE)
        except SvgError as exc:
            work.dropped.append({"candidate": i, "reason": f"render failed: {str(exc)[:200]}"})
            continue
        violations = check_compliance(styled.clean.svg, rules).violations if rules else []
        tokens = int(getattr(samples[i], "tokens", 0))
        work.designs.append(Design(i, styled, tokens, clean.removals, violations))
