"""Model evaluation: validation loss/perplexity, SVG validity, non-blank renders, prompt adherence, a gallery."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.svg.compare import consensus_order
from slm.adherence import ASPECTS, check
from slm.decode.sampling import DecodeRequest, Generator, Sample, read_consensus
from slm.quality.designs import GenerateFn, Reference
from slm.train.config import ExampleLike, as_example
from slm.train.data import encode_examples, to_forms
from slm.train.loss import evaluation_loss

RENDER_SIZE = 64  # small: we only ask "is anything drawn?"


@dataclass
class GalleryItem:
    prompt: str
    svg: str
    valid: bool
    adherent: bool


@dataclass
class EvalResult:
    val_loss: float | None
    perplexity: float | None
    samples: int
    validity_rate: float  # parses through core.svg
    nonblank_rate: float | None  # renders non-blank (None when core.svg cannot render yet)
    valid_nonblank_rate: (
        float  # parses AND renders non-blank (parses AND draws something, without a renderer)
    )
    adherence_rate: float  # exact adherence on the synthetic prompts
    aspect_rates: dict[str, float] = field(default_factory=dict)
    gallery: list[GalleryItem] = field(default_factory=list)
    failures: list[GalleryItem] = field(default_factory=list)


def renderer() -> Callable[[str], bool] | None:
    """svg -> "renders non-blank?" through core.svg, or None while core.svg has no renderer."""
    try:
        import core.svg as svg_mod
    except ImportError:  # pragma: no cover - core is part of the project
        return None
    render = getattr(svg_mod, "render_png", None)
    blank = getattr(svg_mod, "is_blank_png", None)
    if render is None or blank is None:
        try:
            import core.svg.render as render_mod
        except ImportError:
            return None
        render = getattr(render_mod, "render_png", None)
        blank = getattr(render_mod, "is_blank_png", None)
    if render is None or blank is None:
        return None

    def nonblank(svg_text: str) -> bool:
        try:
            return not blank(render(svg_text, size=RENDER_SIZE))
        except Exception:  # SvgError, renderer failures: all mean "not a usable render"
            return False

    return nonblank


def score_samples(
    prompts: Sequence[str], svgs: Sequence[str], gallery_size: int = 8, failures_kept: int = 8
) -> EvalResult:
    """Validity, non-blank rate and adherence of generated SVGs for synthetic prompts (no loss)."""
    nonblank_fn = renderer()
    n = len(prompts)
    valid = nonblank = both = adherent = 0
    aspect_hits = dict.fromkeys(ASPECTS, 0)
    gallery: list[GalleryItem] = []
    failures: list[GalleryItem] = []
    for prompt, svg in zip(prompts, svgs, strict=True):
        r = check(prompt, svg)
        drawn = bool(r.observed)
        ok_render = (nonblank_fn(svg) if r.valid else False) if nonblank_fn else (r.valid and drawn)
        valid += r.valid
        nonblank += ok_render
        both += r.valid and ok_render
        adherent += r.adherent
        for a in ASPECTS:
            aspect_hits[a] += bool(r.aspects.get(a))
        item = GalleryItem(prompt=prompt, svg=svg, valid=r.valid, adherent=r.adherent)
        if len(gallery) < gallery_size:
            gallery.append(item)
        if not r.adherent and len(failures) < failures_kept:
            failures.append(item)
    d = max(1, n)
    return EvalResult(
        val_loss=None,
        perplexity=None,
        samples=n,
        validity_rate=valid / d,
        nonblank_rate=(nonblank / d) if nonblank_fn else None,
        valid_nonblank_rate=both / d,
        adherence_rate=adherent / d,
        aspect_rates={a: aspect_hits[a] / d for a in ASPECTS},
        gallery=gallery,
        failures=failures,
    )


def generate_svgs(
    generator: Generator, prompts: Sequence[str], batch_size: int = 128, max_new_tokens: int = 256
) -> list[Sample]:
    """Greedy samples, one per prompt, in batches (bounded memory, still one pass per token per batch)."""
    out: list[Sample] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        out += [c[0] for c in generator.generate(chunk, n=1, temperature=0.0, max_new_tokens=max_new_tokens)]
    return out


def evaluate(
    model_dir: str | Path,
    val_examples: Iterable[ExampleLike],
    prompts_for_adherence: Sequence[str],
    *,
    gallery_size: int = 8,
    batch_size: int = 128,
    max_new_tokens: int = 256,
    generator: Generator | None = None,
) -> EvalResult:
    """Loss/perplexity on val_examples, then greedy generation for prompts_for_adherence, scored."""
    gen = generator or Generator(model_dir)
    examples = [as_example(e) for e in val_examples]
    if gen.form is not None:  # the loss is the model's own: on designs as it writes them
        examples, _ = to_forms(examples, gen.form)
    encoded, _ = encode_examples(gen.tokenizer, examples, gen.max_positions)
    val_loss = evaluation_loss(gen.model, encoded, gen.eos_id)
    samples = generate_svgs(gen, prompts_for_adherence, batch_size, max_new_tokens)
    result = score_samples(prompts_for_adherence, [s.text for s in samples], gallery_size)
    result.val_loss = val_loss
    result.perplexity = math.exp(min(val_loss, 50)) if val_loss is not None else None
    return result


def design_generate(gen: Generator, *, batch_size: int = 64, consensus: int | None = None) -> GenerateFn:
    """The quality evaluation's generate function on a loaded model: candidates as SVG, decoded in
    continuous batches of `batch_size` requests, each seeded by its position. "The design" for a prompt
    (one candidate at temperature 0) is chosen as the model's manifest says generation chooses it: its
    greedy decode, or the consensus of k sampled candidates (`consensus` overrides k; 0 is greedy)."""
    k, consensus_t = read_consensus(gen.model_dir)
    if consensus is not None:
        k = consensus

    def decode(refs: Sequence[Reference], n: int, temperature: float, seed: int) -> list[list[str]]:
        out: list[list[str]] = []
        for start in range(0, len(refs), batch_size):
            requests = [
                DecodeRequest(
                    r.prompt,
                    n=n,
                    seed=seed + start + i,
                    temperature=temperature,
                    max_new_tokens=gen.max_positions,
                    context=r.context,
                )
                for i, r in enumerate(refs[start : start + batch_size])
            ]
            out += [[s.text for s in samples] for samples in gen.decode_all(requests)]
        return out

    def generate(refs: Sequence[Reference], n: int, temperature: float, seed: int) -> list[list[str]]:
        if k <= 0 or n != 1 or temperature > 0:
            return decode(refs, n, temperature, seed)
        chosen: list[list[str]] = []
        step = max(1, batch_size // k)  # requests a batch, so a batch holds about batch_size rows
        for start in range(0, len(refs), step):
            for candidates in decode(refs[start : start + step], k, consensus_t, seed + start):
                chosen.append([candidates[consensus_order(candidates)[0]]] if candidates else [])
        return chosen

    return generate
