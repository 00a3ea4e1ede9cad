"""Does an SVG do what a synthetic-grammar prompt asked for?

The prompt is parsed back to a `DesignSpec`; the SVG (any SVG, parsed through `core.svg`) is reduced to
drawn elements, each classified by shape class, nearest palette colour, grid cell of its bounding-box
centre, size class and fill/outline style. Adherence is an exact multiset match of those descriptions.
Parsing, colours, presentation and geometry are core.svg's; the classification is adherence_observe's.
No torch here: Django code imports this module.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.svg import SvgError, parse_svg
from slm.adherence_observe import ObservedElement, analyse_svg_tree
from slm.synthetic import (
    PALETTE,
    PLURALS,
    POSITIONS,
    SIZES,
    DesignSpec,
    ObjectSpec,
)

ASPECTS: tuple[str, ...] = ("shape", "colour", "size", "position", "count", "style")

# --- prompt grammar ----------------------------------------------------------------------------------

_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_SHAPE_WORDS = {**{s: s for s in PLURALS}, **{p: s for s, p in PLURALS.items()}}
_STYLE_WORDS = {"outlined": "outlined", "outline": "outlined", "filled": "filled", "solid": "filled"}


def _alternation(words: Iterable[str]) -> str:
    # Longest first so "top left" wins over "top".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_GROUP_RE = re.compile(
    rf"^(?P<count>{_alternation(_COUNTS)})\s+(?P<size>{_alternation(SIZES)})\s+"
    rf"(?P<colour>{_alternation(PALETTE)})\s+(?:(?P<style>{_alternation(_STYLE_WORDS)})\s+)?"
    rf"(?P<shape>{_alternation(_SHAPE_WORDS)})\s+(?:at|in)\s+the\s+(?P<position>{_alternation(POSITIONS)})$"
)


def parse_prompt(prompt: str) -> DesignSpec | None:
    """The spec of a prompt in the synthetic grammar, or None when it is not in the grammar."""
    text = re.sub(r"\s+", " ", prompt.strip().lower()).rstrip(".!")
    objects = []
    for clause in text.split(" and "):
        m = _GROUP_RE.match(clause.strip())
        if not m:
            return None
        count = _COUNTS[m["count"]]
        shape_word = m["shape"]
        if (count == 1) != (shape_word in PLURALS):  # "two circle" / "a circles" are not grammatical
            return None
        objects.append(
            ObjectSpec(
                shape=_SHAPE_WORDS[shape_word],
                colour=m["colour"],
                size=m["size"],
                position=m["position"],
                count=count,
                style=_STYLE_WORDS.get(m["style"] or "", "filled"),
            )
        )
    return DesignSpec(objects=tuple(objects))


@dataclass
class AdherenceResult:
    valid: bool
    adherent: bool
    aspects: dict[str, bool] = field(default_factory=dict)
    expected: DesignSpec | None = None
    observed: list[ObservedElement] = field(default_factory=list)
    error: str | None = None


# --- checking ----------------------------------------------------------------------------------------


def expected_elements(spec: DesignSpec) -> list[tuple[str, str, str, str, str]]:
    return [(o.shape, o.colour, o.size, o.position, o.style) for o in spec.objects for _ in range(o.count)]


def compare(spec: DesignSpec, observed: list[ObservedElement]) -> dict[str, bool]:
    """Per-aspect multiset comparison; "count" checks the total and each group's cell population."""
    exp = expected_elements(spec)
    obs = [o.key() for o in observed]
    aspects = {}
    for i, name in enumerate(("shape", "colour", "size", "position")):
        aspects[name] = Counter(e[i] for e in exp) == Counter(o[i] for o in obs)
    aspects["style"] = Counter(e[4] for e in exp) == Counter(o[4] for o in obs)
    per_cell = Counter(o.position for o in observed)
    aspects["count"] = len(obs) == len(exp) and all(per_cell[g.position] == g.count for g in spec.objects)
    return aspects


def check(prompt: str | DesignSpec, svg_text: str) -> AdherenceResult:
    """Parse the SVG through core.svg and compare it with the prompt's spec."""
    spec = parse_prompt(prompt) if isinstance(prompt, str) else prompt
    try:
        root = parse_svg(svg_text)
    except SvgError as exc:
        return AdherenceResult(valid=False, adherent=False, expected=spec, error=str(exc))
    except Exception as exc:  # any parser failure just means "not valid"
        return AdherenceResult(
            valid=False, adherent=False, expected=spec, error=f"{type(exc).__name__}: {exc}"
        )
    observed = analyse_svg_tree(root)
    if spec is None:
        return AdherenceResult(
            valid=True, adherent=False, observed=observed, error="prompt is not in the grammar"
        )
    aspects = compare(spec, observed)
    adherent = Counter(expected_elements(spec)) == Counter(o.key() for o in observed)
    return AdherenceResult(valid=True, adherent=adherent, aspects=aspects, expected=spec, observed=observed)


def check_rows(rows: Iterable[tuple[str, str]]) -> tuple[float, float]:
    """(adherence fraction, valid fraction) over (prompt, svg) pairs; (0, 0) when empty."""
    n = adherent = valid = 0
    for prompt, svg in rows:
        r = check(prompt, svg)
        n += 1
        adherent += r.adherent
        valid += r.valid
    return (adherent / n, valid / n) if n else (0.0, 0.0)


def check_file(path: str | Path) -> tuple[float, float]:
    """(adherence fraction, valid fraction) for a JSONL file of rows with `prompt` and `svg`."""

    def rows() -> Iterable[tuple[str, str]]:
        with Path(path).open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    yield row["prompt"], row["svg"]

    return check_rows(rows())
