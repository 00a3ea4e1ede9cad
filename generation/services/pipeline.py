"""The generation pipeline: a claimed request's best-of-N candidates are decoded in the model's shared
batch (engine.get_scheduler: continuous batching with every other request in flight), cleaned through
core.svg, de-duplicated, styled, checked, and stored with the request completed in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings

from core.jobs.models import JobStatus
from core.svg import SvgError
from generation import engine
from generation.models import DesignOutput
from generation.services.candidates import (
    Work,
    candidates_check,
    candidates_fill,
    candidates_per_request,
    designs_short_by,
)
from generation.services.completion import generation_complete
from generation.services.fingerprints import output_fingerprints_compute
from generation.services.jobs import (
    MASKED_ERROR,
    PROMPT_DELETED,
    GenerationError,
    generation_fail,
)
from generation.services.renders import design_png_store, png_render_submit
from slm.decode.interface import DecodeRequest, engine_info

log = logging.getLogger(__name__)


def generation_execute(*, output: DesignOutput) -> None:
    """Run a claimed request: its candidates join this process's decode loop for the model (batched
    with every other request in flight), then are cleaned, checked and stored. Ends the row completed
    or failed on any ordinary error (a masked message; the full error goes to the log); an interrupt
    (time limit, shutdown) leaves it to core.jobs to hand back. The designs' full-size PNGs render in
    the renderer's processes once the request is completed and are stored then, so the answer does not
    wait for them. `output` is the row as its claim left it (prompt and model loaded)."""
    if output.status != JobStatus.RUNNING:
        return
    if output.model_version is None:
        generation_fail(output, "The model version of this request no longer exists.")
        return
    if output.prompt.deleted_at is not None:  # deleted while it was queued: generate nothing for it
        generation_fail(output, PROMPT_DELETED)
        return
    try:
        samples, batch = _generate(output)
        t0 = time.perf_counter()
        work = Work(output=output, samples=samples, consensus=bool(consensus_of(output.model_version)[0]))
        _prepare(work)
        completed = _finish(
            work, batch_info=batch, postprocess_ms=lambda: round((time.perf_counter() - t0) * 1000)
        )
    except GenerationError as exc:
        generation_fail(output, str(exc), **exc.details)
        return
    except Exception:
        log.exception("generation failed (output %s)", output.pk)
        generation_fail(output, MASKED_ERROR)
        return
    if not completed:
        return  # reaped or finished elsewhere meanwhile: its PNGs are not ours to store
    # Submitted once the designs are committed, not before: the render threads' Python (core.svg's checks
    # of each SVG) would otherwise take turns with the store for the interpreter lock, and the answer
    # waits on the store (0.3-0.5 ms a call, measured A/B with bench's API calls); the PNGs come a store's
    # time later, and a download asked for before then renders its own.
    pngs = [png_render_submit(d.styled.clean.svg) for d in work.designs]
    for seq, future in enumerate(pngs):
        try:
            design_png_store(output=output, sequence_order=seq, png=future.result())
        except SvgError:  # the download will try again, and answer 503 if it cannot either
            log.warning("design %s/%s could not be rendered to PNG", output.pk, seq, exc_info=True)
    # Each design's fingerprint (for ?neighbours= and the similar panel), stored the same way: after the
    # answer, in the render threads.
    output_fingerprints_compute(
        output_id=output.pk, svgs={s: d.styled.clean.svg for s, d in enumerate(work.designs)}
    )


def consensus_of(model: Any) -> tuple[int, float]:
    """How many candidates a model version's designs are chosen from by consensus, and their sampling
    temperature (its config's `decoding`, written at registration; (0, 0.0) for greedy models)."""
    decoding = (getattr(model, "model_config", None) or {}).get("decoding") or {}
    try:
        return max(0, int(decoding.get("consensus") or 0)), float(decoding.get("temperature") or 1.0)
    except (TypeError, ValueError, AttributeError):
        return 0, 0.0


def _sampling(output: DesignOutput) -> tuple[int, float]:
    """How many candidates a request's first draw has, and at which temperature. A model that chooses
    its designs by consensus gets at least its k candidates, sampled at its temperature when the request
    asks for 0 (still deterministic: every request has its seed)."""
    n = candidates_per_request(count=output.requested_count, temperature=output.temperature)
    temperature = float(output.temperature)
    k, consensus_temperature = consensus_of(output.model_version)
    if k:
        n = max(n, k)
        temperature = temperature if temperature > 0 else consensus_temperature
    return n, temperature


def _generate(output: DesignOutput) -> tuple[list[Any], dict[str, Any]]:
    """This request's best-of-N candidates, decoded in the model's shared batch."""
    n, temperature = _sampling(output)
    samples, stats = _decode(output, n=n, seed=int(output.seed or 0), temperature=temperature)
    return samples, {**stats, "candidates_per_prompt": n}


def _decode(
    output: DesignOutput, *, n: int, seed: int, temperature: float
) -> tuple[list[Any], dict[str, Any]]:
    job = DecodeRequest(
        prompt=output.prompt.text_content,
        n=n,
        seed=seed,
        temperature=temperature,
        max_new_tokens=settings.GENERATION_MAX_NEW_TOKENS,
        context=(output.prompt.metadata or {}).get("context"),
    )
    scheduler = engine.get_scheduler(output.model_version)
    future = scheduler.submit(job)
    while True:  # short waits, so a time limit or shutdown can interrupt this thread
        try:
            result = future.result(timeout=1.0)
            break
        except FutureTimeout:
            continue
    if len(result.samples) != n:
        raise RuntimeError(f"generator returned {len(result.samples)} candidates for {n}")
    info = engine_info(scheduler)
    return list(result.samples), {**result.stats, **({"engine": info} if info else {})}


def _prepare(work: Work) -> None:
    """Check the candidates; when too few are distinct, draw more (bounded), with new seeds."""
    candidates_check(work)
    temperature = _sampling(work.output)[1]

    def draw(n: int, seed: int) -> tuple[list[Any], dict[str, Any]]:
        samples, stats = _decode(work.output, n=n, seed=seed, temperature=temperature)
        return samples, {k: stats[k] for k in ("generate_ms", "queued_ms") if k in stats}

    candidates_fill(work, temperature=temperature, draw=draw)


def _finish(work: Work, *, batch_info: dict[str, Any], postprocess_ms: Callable[[], int]) -> bool:
    output, samples, designs = work.output, work.samples, work.designs
    dropped = sorted(work.dropped, key=lambda d: d["candidate"])
    if not designs:
        reasons = sorted({d["reason"].split(":")[0] for d in work.dropped}) or ["no candidates"]
        raise GenerationError(
            f"The model produced no usable design ({len(samples)} candidate(s): {', '.join(reasons)}).",
            candidates_tried=len(samples),
            candidates_dropped=dropped,
            batch=batch_info,
        )
    model = output.model_version
    meta = output.prompt.metadata or {}
    context = meta.get("context")
    palette = meta.get("palette") or {}
    metadata = {
        "model_version": {"id": str(model.pk), "name": model.model_name, "version": model.version},
        "seed": output.seed,
        "temperature": output.temperature,
        "tokens": {
            "generated": sum(int(getattr(s, "tokens", 0)) for s in samples),
            "per_candidate": [int(getattr(s, "tokens", 0)) for s in samples],
        },
        "candidates_tried": len(samples),
        "candidates_dropped": dropped,
        "extra_draws": work.draws,
        "designs_short_by": designs_short_by(work, temperature=_sampling(output)[1]),
        "chosen_by": "consensus" if work.order is not None else "order",
        "context": context,
        "palette_applied": {
            "source": palette.get("source"),
            "colours": palette.get("colours", []),
            "as_model_context": bool(context and palette.get("colours")),
            "recoloured": bool(palette.get("colours")),
            **(
                {"overridden_input_palette": palette["overridden_input_palette"]}
                if palette.get("overridden_input_palette")
                else {}
            ),
        },
        "batch": batch_info,
    }
    return generation_complete(output, designs, metadata, postprocess_ms=postprocess_ms)
