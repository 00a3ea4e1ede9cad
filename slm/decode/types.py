"""What goes into a decode and what comes out: plain dataclasses shared by the Generator, the batches,
the one decode loop (slm.decode.loop) and its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    text: str  # the design as SVG (decoded from the model form for models that write one)
    tokens: int  # generated tokens, [eos] excluded
    finished: bool  # ended with [eos] rather than running out of tokens
    form: str = ""  # what the model wrote, for models that write the model form
    dropped: list[str] = field(default_factory=list)  # malformed pieces the decoding left out


@dataclass(frozen=True)
class DecodeRequest:
    """One prompt and how to decode it: `n` candidates, greedy when temperature == 0, else sampled with
    its own seeded generator (so a request's samples do not depend on what else shares the batch)."""

    prompt: str
    n: int = 1
    seed: int = 0
    temperature: float = 0.0
    max_new_tokens: int = 256
    context: str | None = None
    top_k: int | None = None


@dataclass
class DecodeResult:
    samples: list[Any]
    # size: the most requests that shared a step with it; steps; queued_ms (waiting to join);
    # generate_ms (from joining to its last token)
    stats: dict[str, int]
