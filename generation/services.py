"""Writes of generation: create a request, run it, store its designs and PNGs, reap stale ones,
conversations.

A request is a Prompt (what was asked, with its input images) and a DesignOutput (the job and its
result). `generation_create` stores both and enqueues the `generate` actor after commit; the actor
claims the row and calls `generation_execute`, which hands the request's best-of-N candidates to the
model's decode loop (engine.get_scheduler: continuous batching with every other request in flight),
cleans every candidate through core.svg, applies the style guide, stores the designs, and stores the
PNGs rendered meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from auditlog.context import disable_auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from catalog.models import PromptTemplateVersion, StyleGuide
from catalog.selectors import prompt_template_label_list, prompt_template_version_list, style_guide_list
from catalog.style import check_compliance, conditioning_text
from core.jobs import enqueue_on_commit
from core.models import clean_new_row
from core.svg import SvgError, check_visible, clean_svg, render_png
from core.svg.render import RENDER_WORKERS
from generation import engine, events
from generation.images import MAX_IMAGES, ProcessedImage, combined_palette, input_image_process
from generation.models import Conversation, DesignOutput, InputImage, OutputImage, Prompt
from generation.selectors import generation_created
from generation.styling import StyleResult, style_apply
from training.ml.sampling import DecodeRequest
from training.models import SLMModel
from training.selectors import model_version_resolve

log = logging.getLogger(__name__)

MAX_COUNT = 8
MAX_TEMPERATURE = 2.0
# Rows claimed before this moment belong to a worker of an earlier process (see generation_reap_stale).
PROCESS_STARTED = timezone.now()
MASKED_ERROR = "Generation failed because of an internal error. Please try again later."
Status = DesignOutput.Status


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


class GenerationError(Exception):
    """An expected failure whose message is safe to show to the client; `details` go to its metadata."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


# --- create ------------------------------------------------------------------------------------------


def _visible_versions(user: Any) -> Any:
    return (
        prompt_template_version_list()
        .filter(template__deleted_at__isnull=True)
        .filter(Q(template__is_public=True) | Q(template__created_by=user))
    )


def _resolve_template(
    *, user: Any, template_version_id: Any, template_name: str
) -> PromptTemplateVersion | None:
    if template_version_id:
        version = _visible_versions(user).filter(pk=template_version_id).first()
        if version is None:
            raise ValidationError({"template_version": "No such template version."})
        return version
    if template_name:
        label = (
            prompt_template_label_list()
            .filter(name="production", template__name=template_name, template__deleted_at__isnull=True)
            .filter(Q(template__is_public=True) | Q(template__created_by=user))
            .first()
        )
        if label is None:
            raise ValidationError(
                {"template": f"No template named {template_name!r} with a production version."}
            )
        return label.version
    return None


def _palette_choice(
    *, guide: StyleGuide | None, image_palette: list[str], conversation: Conversation | None
) -> dict[str, Any]:
    """Which palette conditions the design, and why: style guide > input images > conversation."""
    guide_palette = list((guide.style_rules or {}).get("palette") or []) if guide else []
    if guide_palette:
        choice = {"source": "style_guide", "colours": guide_palette}
        if image_palette:
            choice["overridden_input_palette"] = image_palette
        return choice
    if image_palette:
        return {"source": "input_images", "colours": image_palette}
    carried = (conversation.context or {}).get("palette") if conversation else None
    if carried:
        return {"source": "conversation", "colours": list(carried)}
    return {"source": None, "colours": []}


def model_context(*, guide: StyleGuide | None, palette: dict[str, Any]) -> str | None:
    """The conditioning text the model reads before the prompt (catalog.style's format)."""
    parts = [conditioning_text(guide)] if guide else []
    if palette["colours"] and palette["source"] != "style_guide":
        parts.append("palette " + " ".join(palette["colours"]))
    return "; ".join(p for p in parts if p) or None


def default_temperature(count: int) -> float:
    # Greedy decoding gives one design; several need sampling.
    return 0.0 if count == 1 else float(_setting("GENERATION_DEFAULT_TEMPERATURE", 0.8))


def generation_create(
    *,
    user: Any,
    text: str = "",
    template_version_id: Any = None,
    template_name: str = "",
    variables: dict[str, Any] | None = None,
    style_guide_id: Any = None,
    conversation_id: Any = None,
    images: Sequence[IO[bytes]] = (),
    count: int = 1,
    model: str = "production",
    seed: int | None = None,
    temperature: float | None = None,
) -> DesignOutput:
    """Store a generation request and queue it. Input images are checked before anything is written."""
    if not 1 <= count <= MAX_COUNT:
        raise ValidationError({"count": f"Ask for 1 to {MAX_COUNT} designs."})
    if temperature is not None and not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValidationError({"temperature": f"Use a temperature from 0 to {MAX_TEMPERATURE:g}."})
    if len(images) > MAX_IMAGES:
        raise ValidationError({"images": f"At most {MAX_IMAGES} images per request."})
    processed = [input_image_process(fp) for fp in images]
    try:
        model_version = model_version_resolve(ref=model or "production")
    except SLMModel.DoesNotExist:
        raise ValidationError({"model": f"No model version or alias named {model!r}."})

    saved: list[str] = []
    try:
        # The API request log is the record of who asked for what (user, IP, payload, prompt), one row
        # per call; the audit trail keeps to curation, admin edits, deletes and restores.
        with disable_auditlog():
            return _generation_create_rows(
                user=user,
                text=text,
                template_version_id=template_version_id,
                template_name=template_name,
                variables=variables or {},
                style_guide_id=style_guide_id,
                conversation_id=conversation_id,
                processed=processed,
                count=count,
                model_version=model_version,
                seed=seed,
                temperature=temperature,
                saved=saved,
            )
    except BaseException:
        for name in saved:  # the rows rolled back: do not leave their files behind
            with contextlib.suppress(Exception):
                default_storage.delete(name)
        raise


# Rows the request has just resolved itself (the user, its template version, guide, conversation).
PROMPT_FKS = ("user", "template_version", "style_guide", "conversation")


@transaction.atomic
def _generation_create_rows(
    *,
    user: Any,
    text: str,
    template_version_id: Any,
    template_name: str,
    variables: dict[str, Any],
    style_guide_id: Any,
    conversation_id: Any,
    processed: list[ProcessedImage],
    count: int,
    model_version: SLMModel,
    seed: int | None,
    temperature: float | None,
    saved: list[str],
) -> DesignOutput:
    conversation = None
    if conversation_id:
        conversation = (
            Conversation.objects.select_for_update()
            .filter(pk=conversation_id, user=user, status=Conversation.Status.ACTIVE)
            .first()
        )
        if conversation is None:
            raise ValidationError({"conversation": "No such active conversation."})
    carried = (conversation.context or {}) if conversation else {}

    version = _resolve_template(
        user=user, template_version_id=template_version_id, template_name=template_name
    )
    if version is None and not text and carried.get("template_version_id"):
        version = _visible_versions(user).filter(pk=carried["template_version_id"]).first()
    if version is not None:
        if text:
            raise ValidationError({"text": "Give either a prompt text or a template, not both."})
        if not variables and str(version.pk) == carried.get("template_version_id"):
            variables = dict(carried.get("template_variables") or {})
        text = version.render({k: str(v) for k, v in variables.items()})
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Give a prompt text or a template."})

    guide = None
    guide_id = style_guide_id or carried.get("style_guide_id")
    if guide_id:
        guide = style_guide_list(published_only=True).filter(pk=guide_id).first()
        if guide is None and style_guide_id:
            raise ValidationError({"style_guide": "No such published style guide."})

    analyses = [p.analysis for p in processed]
    palette = _palette_choice(
        guide=guide, image_palette=combined_palette(analyses), conversation=conversation
    )
    context = model_context(guide=guide, palette=palette)
    if temperature is None:
        temperature = default_temperature(count)
    if seed is None:
        seed = secrets.randbelow(2**31)

    prompt = Prompt(
        user=user,
        text_content=text,
        template_version=version,
        template_variables=variables if version else {},
        style_guide=guide,
        conversation=conversation,
        metadata={
            "context": context,
            "palette": palette,
            "style_rules": dict(guide.style_rules or {}) if guide else {},
            "carried_from_conversation": sorted(
                k
                for k, used in (
                    ("style_guide", guide is not None and not style_guide_id),
                    ("palette", palette["source"] == "conversation"),
                    ("template", version is not None and not template_version_id and not template_name),
                )
                if used
            ),
        },
    )
    clean_new_row(prompt, trusted=PROMPT_FKS)
    prompt.save()
    inputs = []
    for p in processed:
        image = InputImage(
            prompt=prompt,
            file_type=p.file_type,
            file_size=len(p.content),
            width=p.width,
            height=p.height,
            analysis_metadata=p.analysis,
        )
        image.file.save(f"input.{p.file_type}", ContentFile(p.content), save=False)
        saved.append(image.file.name)
        image.full_clean()
        image.save()
        inputs.append(image)

    output = DesignOutput(
        prompt=prompt,
        model_version=model_version,
        requested_count=count,
        seed=seed,
        temperature=temperature,
        status=Status.PENDING,
    )
    clean_new_row(output, trusted=("prompt", "model_version"))
    output.save()

    if version is not None:
        PromptTemplateVersion.objects.filter(pk=version.pk).update(usage_count=F("usage_count") + 1)
    if conversation is not None:
        context_update = dict(carried)
        context_update.update(
            {
                "style_guide_id": str(guide.pk) if guide else None,
                "palette": palette["colours"],
                "template_version_id": str(version.pk) if version else carried.get("template_version_id"),
                "template_variables": variables if version else carried.get("template_variables", {}),
                "last_prompt_id": str(prompt.pk),
                "last_output_id": str(output.pk),
            }
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            context=context_update, total_messages=F("total_messages") + 1, updated_at=timezone.now()
        )

    from generation.tasks import generate

    enqueue_on_commit(generate, str(output.pk))
    return generation_created(output=output, input_images=inputs)


@transaction.atomic
def conversation_create(*, user: Any, title: str = "") -> Conversation:
    conversation = Conversation(user=user, title=title)
    conversation.full_clean()
    conversation.save()
    return conversation


# --- claim and execute -------------------------------------------------------------------------------


def claim_stale_after() -> timedelta:
    return timedelta(seconds=int(_setting("GENERATION_CLAIM_TTL_SECONDS", 600)))


def max_attempts() -> int:
    return int(_setting("GENERATION_MAX_ATTEMPTS", 3))


def is_claimed_by_live_worker(output: DesignOutput) -> bool:
    stamp = output.heartbeat_at
    return (
        output.status == Status.PROCESSING
        and stamp is not None
        and stamp > timezone.now() - claim_stale_after()
    )


def design_output_claim(*, output: DesignOutput) -> bool:
    """Mark a locked row as taken by this worker (the caller holds select_for_update). False when its
    attempts are used up: the row is failed instead. Job-state writes of workers are not audited."""
    with disable_auditlog():
        return _claim(output)


def _claim(output: DesignOutput) -> bool:
    if output.attempts >= max_attempts():
        output.status = Status.FAILED
        output.error_message = "Generation did not finish after several attempts. Please try again."
        output.save(update_fields=["status", "error_message", "updated_at"])
        Prompt.all_objects.filter(pk=output.prompt_id).update(status=Prompt.Status.FAILED)
        return False
    output.status = Status.PROCESSING
    output.attempts += 1
    output.heartbeat_at = timezone.now()
    output.save(update_fields=["status", "attempts", "heartbeat_at", "updated_at"])
    Prompt.all_objects.filter(pk=output.prompt_id).update(status=Prompt.Status.PROCESSING)
    return True


def candidates_per_request(*, count: int, temperature: float) -> int:
    if temperature <= 0:
        return 1  # greedy decoding: every candidate would be the same
    oversample = float(_setting("GENERATION_OVERSAMPLE", 2.0))
    return max(count, min(int(_setting("GENERATION_MAX_CANDIDATES", 16)), round(count * oversample)))


@dataclass
class _Design:
    candidate: int
    styled: StyleResult
    tokens: int
    removals: tuple[str, ...]
    compliance: list[str] = field(default_factory=list)


@dataclass
class _Work:
    """One request's post-processing: its candidates, what was kept and what was dropped, and why."""

    output: DesignOutput
    samples: list[Any]
    designs: list[_Design] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)


def png_size() -> int:
    return int(_setting("GENERATION_PNG_SIZE", 512))


def generation_execute(*, output: DesignOutput) -> None:
    """Run a claimed request: its candidates join this process's decode loop for the model (batched
    with every other request in flight), then are cleaned, checked and stored. Never leaves a row
    `processing` on an ordinary error: it ends completed or failed (masked message, full error in the
    log). The designs' full-size PNGs render in the renderer's processes meanwhile and are stored just
    after the request is completed, so the answer does not wait for them. `output` is the row as its
    claim left it (prompt and model version loaded)."""
    if output.status != Status.PROCESSING:
        return
    if output.model_version is None:
        _fail(output, "The model version of this request no longer exists.")
        return
    pngs: list[Future[bytes]] = []
    try:
        samples, batch = _generate(output)
        t0 = time.perf_counter()
        work = _Work(output=output, samples=samples)
        _prepare(work)
        pngs = [
            _png_threads().submit(render_png, d.styled.clean.svg, size=png_size(), check_blank=False)
            for d in work.designs
        ]
        completed = _finish(
            work, batch_info=batch, postprocess_ms=lambda: round((time.perf_counter() - t0) * 1000)
        )
    except GenerationError as exc:
        _fail(output, str(exc), **exc.details)
        return
    except Exception:
        log.exception("generation failed (output %s)", output.pk)
        _fail(output, MASKED_ERROR)
        return
    except BaseException:
        # Time limit or worker shutdown: hand the row back so a retry (or the reaper) runs it again.
        _release(output)
        raise
    if not completed:
        return  # reaped or finished elsewhere meanwhile: its PNGs are not ours to store
    for seq, future in enumerate(pngs):
        try:
            _png_store(output=output, sequence_order=seq, png=future.result())
        except SvgError:  # the download will try again, and answer 503 if it cannot either
            log.warning("design %s/%s could not be rendered to PNG", output.pk, seq, exc_info=True)


_png_pool: ThreadPoolExecutor | None = None
_png_pool_lock = threading.Lock()


def _png_threads() -> ThreadPoolExecutor:
    """Threads that wait on core.svg's render processes, one per process."""
    global _png_pool
    with _png_pool_lock:
        if _png_pool is None:
            _png_pool = ThreadPoolExecutor(max_workers=RENDER_WORKERS, thread_name_prefix="atelier-png")
        return _png_pool


def _generate(output: DesignOutput) -> tuple[list[Any], dict[str, Any]]:
    """This request's best-of-N candidates, decoded in the model's shared batch."""
    n = candidates_per_request(count=output.requested_count, temperature=output.temperature)
    job = DecodeRequest(
        prompt=output.prompt.text_content,
        n=n,
        seed=int(output.seed or 0),
        temperature=float(output.temperature),
        max_new_tokens=int(_setting("GENERATION_MAX_NEW_TOKENS", 256)),
        context=(output.prompt.metadata or {}).get("context"),
    )
    future = engine.get_scheduler(output.model_version).submit(job)
    while True:  # short waits, so a time limit or shutdown can interrupt this thread
        try:
            result = future.result(timeout=1.0)
            break
        except FutureTimeout:
            continue
    if len(result.samples) != n:
        raise RuntimeError(f"generator returned {len(result.samples)} candidates for {n}")
    return list(result.samples), {**result.stats, "candidates_per_prompt": n}


def _prepare(work: _Work) -> None:
    """Clean, de-duplicate, style and check every candidate until the request has its designs."""
    meta = work.output.prompt.metadata or {}
    rules = meta.get("style_rules") or {}
    palette = (meta.get("palette") or {}).get("colours") or []
    seen: set[str] = set()
    # Finished candidates (ended with [eos]) first, then in generation order.
    samples = work.samples
    for i in sorted(range(len(samples)), key=lambda i: (not getattr(samples[i], "finished", True), i)):
        if len(work.designs) >= work.output.requested_count:
            work.dropped.append({"candidate": i, "reason": "not needed"})
            continue
        try:
            clean = clean_svg(samples[i].text)
        except SvgError as exc:
            work.dropped.append({"candidate": i, "reason": f"invalid SVG: {str(exc)[:200]}"})
            continue
        if clean.content_hash in seen:
            work.dropped.append({"candidate": i, "reason": "duplicate of an earlier candidate"})
            continue
        seen.add(clean.content_hash)
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
            check_visible(styled.clean.svg, size=png_size())
        except SvgError as exc:
            work.dropped.append({"candidate": i, "reason": f"render failed: {str(exc)[:200]}"})
            continue
        violations = check_compliance(styled.clean.svg, rules).violations if rules else []
        tokens = int(getattr(samples[i], "tokens", 0))
        work.designs.append(_Design(i, styled, tokens, clean.removals, violations))


def _finish(work: _Work, *, batch_info: dict[str, Any], postprocess_ms: Callable[[], int]) -> bool:
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
    if output.temperature <= 0 and output.requested_count > 1:
        metadata["note"] = (
            "Temperature 0 is deterministic: one distinct design. Use a temperature above 0 for more."
        )
    return _store(output, designs, metadata, postprocess_ms=postprocess_ms)


def _store(
    output: DesignOutput,
    designs: list[_Design],
    metadata: dict[str, Any],
    *,
    postprocess_ms: Callable[[], int],
) -> bool:
    """Store the designs' SVGs and complete the request, in one transaction (files removed if it fails);
    False when the row was no longer ours. Worker job-state writes are not audited: the row keeps its
    own timings and metadata."""
    saved: list[str] = []
    old: list[str] = []
    try:
        with transaction.atomic(), disable_auditlog():
            now = timezone.now()
            started = output.heartbeat_at or now  # set by this worker's claim
            metadata["timings_ms"] = {
                "queued": max(0, round((started - output.created_at).total_seconds() * 1000)),
                "decode_queued": metadata["batch"].get("queued_ms", 0),
                "generate": metadata["batch"].get("generate_ms", 0),
                "postprocess": postprocess_ms(),
            }
            # Only a row still `processing` is completed: one reaped or finished elsewhere meanwhile is
            # left alone (and nothing else is written).
            values = {
                "status": Status.COMPLETED,
                "generated_at": now,
                "design_metadata": metadata,
                "error_message": "",
                "processing_time_ms": max(0, round((now - started).total_seconds() * 1000)),
                "updated_at": now,
            }
            completed = DesignOutput.objects.filter(pk=output.pk, status=Status.PROCESSING).update(**values)
            if not completed:
                return False
            if output.attempts > 1:  # a retried run replaces what a killed one left
                old = [image.file.name for image in OutputImage.objects.filter(output=output)]
                OutputImage.objects.filter(output=output).delete()
            images = []
            for seq, design in enumerate(designs):
                clean = design.styled.clean
                image = OutputImage(
                    output=output,
                    file_type=OutputImage.FileType.SVG,
                    file_size=0,
                    sequence_order=seq,
                    style_attributes={
                        "colours": list(clean.report.colours),
                        "element_counts": dict(clean.report.element_counts),
                        "content_hash": clean.content_hash,
                        "view_box": list(clean.view_box),
                        "style_applied": design.styled.applied,
                        "style_violations": design.compliance,
                        "sanitiser_removed": list(design.removals),
                        "candidate": design.candidate,
                        "tokens": design.tokens,
                    },
                )
                content = clean.svg.encode("utf-8")
                image.file_size = len(content)
                image.file.save("design.svg", ContentFile(content), save=False)
                saved.append(image.file.name)
                clean_new_row(image, trusted=("output",))
                images.append(image)
            OutputImage.objects.bulk_create(images)
            Prompt.all_objects.filter(pk=output.prompt_id).update(status=Prompt.Status.COMPLETED)
            # Waiters in this process are handed what was committed (generation.selectors.generation_apply).
            finished = events.Finished(
                fields={**values, "attempts": output.attempts, "heartbeat_at": output.heartbeat_at},
                images=tuple(images),
            )
            transaction.on_commit(lambda: events.output_finished(output.pk, finished))
    except BaseException:
        for name in saved:
            with contextlib.suppress(Exception):
                default_storage.delete(name)
        raise
    for name in old:
        with contextlib.suppress(Exception):
            default_storage.delete(name)
    return True


# --- PNG renders --------------------------------------------------------------------------------------


def design_png_ensure(*, output: DesignOutput, sequence_order: int) -> OutputImage | None:
    """The PNG of one design of a completed request, rendered from its stored SVG and stored the first
    time it is asked for when the worker has not stored it (yet). None when the design does not exist.
    Raises SvgError when the SVG cannot be rendered."""
    images = {
        image.file_type: image
        for image in OutputImage.objects.filter(output=output, sequence_order=sequence_order)
    }
    if "png" in images or "svg" not in images:
        return images.get("png")
    with images["svg"].file.open("rb") as fh:
        svg = clean_svg(fh.read()).svg  # stored SVG is clean; cleaning again trusts nothing
    return _png_store(output=output, sequence_order=sequence_order, png=render_png(svg, size=png_size()))


def _png_store(*, output: DesignOutput, sequence_order: int, png: bytes) -> OutputImage | None:
    """Store one design's PNG; when another worker or download stored it first, theirs stands."""
    image = OutputImage(
        output=output,
        file_type=OutputImage.FileType.PNG,
        file_size=len(png),
        sequence_order=sequence_order,
        style_attributes={"size": png_size()},
    )
    image.file.save("design.png", ContentFile(png), save=False)
    try:
        clean_new_row(image, trusted=("output",))
        with transaction.atomic(), disable_auditlog():
            image.save()
    except IntegrityError:
        with contextlib.suppress(Exception):
            default_storage.delete(image.file.name)
        return OutputImage.objects.filter(
            output=output, sequence_order=sequence_order, file_type=OutputImage.FileType.PNG
        ).first()
    except BaseException:
        with contextlib.suppress(Exception):
            default_storage.delete(image.file.name)
        raise
    return image


def output_pngs_render(*, output_id: Any) -> None:
    """Render and store every design's PNG of a completed request that does not have one yet."""
    output = DesignOutput.objects.filter(pk=output_id, status=Status.COMPLETED).first()
    if output is None:
        return
    seqs = (
        OutputImage.objects.filter(output=output, file_type=OutputImage.FileType.SVG)
        .exclude(
            sequence_order__in=OutputImage.objects.filter(
                output=output, file_type=OutputImage.FileType.PNG
            ).values("sequence_order")
        )
        .values_list("sequence_order", flat=True)
    )
    for seq in seqs:
        try:
            design_png_ensure(output=output, sequence_order=seq)
        except SvgError:
            log.warning("design %s/%s could not be rendered to PNG", output.pk, seq, exc_info=True)


def _fail(output: DesignOutput, message: str, **extra: Any) -> None:
    with transaction.atomic(), disable_auditlog():
        row = DesignOutput.objects.select_for_update().filter(pk=output.pk).first()
        if row is None or row.status in (Status.COMPLETED, Status.FAILED):
            return
        now = timezone.now()
        row.status = Status.FAILED
        row.error_message = message
        row.design_metadata = {**(row.design_metadata or {}), **extra, "failed_at": now.isoformat()}
        if row.heartbeat_at:
            row.processing_time_ms = max(0, round((now - row.heartbeat_at).total_seconds() * 1000))
        row.save()
        Prompt.all_objects.filter(pk=row.prompt_id).update(status=Prompt.Status.FAILED)
        transaction.on_commit(lambda: events.output_finished(row.pk))


def _release(output: DesignOutput) -> None:
    """Back to pending (or failed once attempts are used up): for interrupts and stale claims."""
    with contextlib.suppress(Exception), transaction.atomic(), disable_auditlog():
        row = DesignOutput.objects.select_for_update().filter(pk=output.pk, status=Status.PROCESSING).first()
        if row is None:
            return
        if row.attempts >= max_attempts():
            row.status = Status.FAILED
            row.error_message = "Generation timed out. Please try again."
            row.save(update_fields=["status", "error_message", "updated_at"])
            Prompt.all_objects.filter(pk=row.prompt_id).update(status=Prompt.Status.FAILED)
        else:
            row.status = Status.PENDING
            row.heartbeat_at = None
            row.save(update_fields=["status", "heartbeat_at", "updated_at"])


# --- reaper ------------------------------------------------------------------------------------------


@dataclass
class ReapResult:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def generation_reap_stale(*, older_than: timedelta | None) -> ReapResult:
    """Rows left `processing` by a dead worker go back to pending, or fail after max_attempts.

    `older_than=None` (the in-process broker's worker died with its process) treats every row claimed
    before this process started as stale; otherwise only rows whose heartbeat is that old.
    """
    result = ReapResult()
    qs = DesignOutput.objects.filter(status=Status.PROCESSING)
    cutoff = PROCESS_STARTED if older_than is None else timezone.now() - older_than
    qs = qs.filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, updated_at__lt=cutoff))
    for pk in qs.values_list("pk", flat=True):
        with transaction.atomic(), disable_auditlog():
            row = DesignOutput.objects.select_for_update().filter(pk=pk, status=Status.PROCESSING).first()
            if row is None:
                continue
            if row.attempts >= max_attempts():
                row.status = Status.FAILED
                row.error_message = "Generation did not finish after several attempts. Please try again."
                row.save(update_fields=["status", "error_message", "updated_at"])
                Prompt.all_objects.filter(pk=row.prompt_id).update(status=Prompt.Status.FAILED)
                result.failed.append(str(pk))
            else:
                row.status = Status.PENDING
                row.heartbeat_at = None
                row.save(update_fields=["status", "heartbeat_at", "updated_at"])
                result.requeued.append(str(pk))
    if result.requeued or result.failed:
        log.warning(
            "reaped stale generations: %d requeued, %d failed", len(result.requeued), len(result.failed)
        )
    return result


def pending_ids(*, older_than: timedelta | None) -> Iterator[str]:
    qs = DesignOutput.objects.filter(status=Status.PENDING)
    if older_than is not None:
        qs = qs.filter(updated_at__lt=timezone.now() - older_than)
    for pk in qs.order_by("created_at").values_list("pk", flat=True):
        yield str(pk)
