"""External model versions: an OpenAI-compatible endpoint (OpenAI, vLLM, TGI, llama.cpp, another Atelier)
drawing designs through the `openai` client, behind the same `generate()` as our own models, so the
generation pipeline (sanitiser, checks, storage) and the evaluation treat it as any other version.

The prompt recipe is a system prompt (what to draw and the style guide) and few-shot examples (prompt →
SVG) from the version's snapshot. Calls have a timeout, the client's retries, and a concurrency limit per
version. Django-free: the key arrives decrypted, and is held by the client only (never in a message).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slm.decode.types import DecodeRequest, DecodeResult, Sample

SVG_RE = re.compile(r"<svg\b[\s\S]*?</svg\s*>", re.IGNORECASE)
DEFAULT_SYSTEM = (
    "You draw icons. Answer every request with one SVG document only: no prose, no markdown, "
    "no scripts, no external references."
)


@dataclass(frozen=True)
class Recipe:
    """How a hosted model is asked: its system prompt and few-shot (prompt, svg) pairs."""

    system: str = DEFAULT_SYSTEM
    examples: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Recipe:
        data = data or {}
        examples = tuple(
            (str(e.get("prompt", "")), str(e.get("svg", "")))
            for e in data.get("examples") or []
            if isinstance(e, dict)
        )
        return cls(system=str(data.get("system") or DEFAULT_SYSTEM), examples=examples)

    def messages(self, prompt: str, context: str | None = None) -> list[dict[str, str]]:
        system = self.system + (f"\n\nFor this request: {context}" if context else "")
        shots = [
            m
            for p, svg in self.examples
            for m in ({"role": "user", "content": p}, {"role": "assistant", "content": svg})
        ]
        return [{"role": "system", "content": system}, *shots, {"role": "user", "content": prompt}]


def svg_of(content: str | None) -> str:
    """The SVG document in a reply (hosted models wrap it in prose or a code fence), or the reply as is:
    whatever it is, the sanitiser decides if it is a design."""
    found = SVG_RE.search(content or "")
    return found.group(0) if found else (content or "")


@dataclass
class ExternalGenerator:
    """`generate()` as slm.decode's Generator has it, answered by an OpenAI-compatible endpoint."""

    base_url: str
    model: str
    api_key: str = field(repr=False)
    recipe: Recipe = field(default_factory=Recipe)
    timeout: float = 60.0
    max_retries: int = 2
    max_concurrency: int = 4
    _client: Any = field(default=None, init=False, repr=False)
    _pool: ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import openai

        # At most max_concurrency calls in flight to this endpoint from this process; the rest queue.
        self._pool = ThreadPoolExecutor(max(1, self.max_concurrency), thread_name_prefix="external")
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "none",  # the client insists on one; self-hosted servers may not
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def submit(self, job: DecodeRequest) -> Future[DecodeResult]:
        """As a scheduler's submit (generation.engine): the job runs on this endpoint's pool."""
        queued = time.perf_counter()

        def run() -> DecodeResult:
            started = time.perf_counter()
            [samples] = self.generate(
                [job.prompt], n=job.n, seed=job.seed, temperature=job.temperature, context=job.context
            )
            done = time.perf_counter()
            stats = {
                "size": 1,
                "steps": 1,
                "queued_ms": round((started - queued) * 1000),
                "generate_ms": round((done - started) * 1000),
            }
            return DecodeResult(samples=samples, stats=stats)

        return self._pool.submit(run)

    def complete(
        self, prompt: str, *, n: int, seed: int, temperature: float, context: str | None = None
    ) -> Any:
        return self._client.chat.completions.create(
            model=self.model,
            messages=self.recipe.messages(prompt, context),
            n=n,
            seed=seed,
            temperature=temperature,
        )

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        seed: int = 0,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        context: str | None = None,
    ) -> list[list[Sample]]:
        out = []
        for prompt in prompts:
            reply = self.complete(prompt, n=n, seed=seed, temperature=temperature, context=context)
            choices = list(getattr(reply, "choices", None) or [])[:n]
            tokens = int(getattr(getattr(reply, "usage", None), "completion_tokens", 0) or 0)
            samples = [
                Sample(
                    text=svg_of(getattr(c.message, "content", None)),
                    tokens=tokens // max(1, len(choices)),
                    finished=getattr(c, "finish_reason", "stop") == "stop",
                )
                for c in choices
            ]
            # An endpoint may give fewer choices than asked (Atelier gives only distinct designs): the
            # missing ones are empty candidates, which the pipeline drops as invalid, with the reason.
            samples += [Sample(text="", tokens=0, finished=False) for _ in range(n - len(samples))]
            out.append(samples)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
