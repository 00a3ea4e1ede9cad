"""Generation requests: store what was asked (text or template, style guide, conversation, input images)
and queue it.

A request is a Prompt (what was asked, with its input images) and a DesignOutput (the job and its
result). `generation_create` stores both and queues the job after commit (generation.tasks.generate).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from typing import IO, Any

from auditlog.context import disable_auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from catalog.models import PromptTemplateVersion, StyleGuide
from core.jobs.kinds import job_enqueue
from core.jobs.models import JobStatus
from core.models import clean_new_row
from generation.images import MAX_IMAGES, ProcessedImage, combined_palette, input_image_process
from generation.models import Conversation, DesignOutput, InputImage, Prompt
from generation.selectors import generation_created
from generation.services.conversations import conversation_context_carry
from generation.services.request_inputs import (
    conversation_lock,
    model_context,
    palette_choice,
    prompt_text_resolve,
    style_guide_resolve,
)
from training.errors import TrainingErrorCode
from training.models import SLMModel
from training.selectors import model_version_resolve

MAX_COUNT = 8
MAX_TEMPERATURE = 2.0


def default_temperature(count: int) -> float:
    # Greedy decoding gives one design; several need sampling.
    return 0.0 if count == 1 else settings.GENERATION_DEFAULT_TEMPERATURE


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
        message = f"No model version or alias named {model!r}."
        raise ValidationError({"model": ValidationError(message, code=TrainingErrorCode.UNKNOWN_MODEL)})
    if model_version.training_strategy == SLMModel.Strategy.PRETRAINED:
        message = f"{model_version} is an imported base model: fine-tune it on a snapshot to draw designs."
        raise ValidationError({"model": ValidationError(message, code=TrainingErrorCode.UNTUNED_BASE_MODEL)})

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
    conversation = conversation_lock(user=user, conversation_id=conversation_id)
    carried = (conversation.context or {}) if conversation else {}

    version, text, variables = prompt_text_resolve(
        user=user,
        text=text,
        template_version_id=template_version_id,
        template_name=template_name,
        variables=variables,
        carried=carried,
    )
    guide = style_guide_resolve(style_guide_id=style_guide_id, carried=carried)

    analyses = [p.analysis for p in processed]
    palette = palette_choice(guide=guide, image_palette=combined_palette(analyses), conversation=conversation)
    context = model_context(guide=guide, palette=palette)
    if temperature is None:
        temperature = default_temperature(count)
    if seed is None:
        seed = secrets.randbelow(2**31)

    prompt = _prompt_save(
        user=user,
        text=text,
        version=version,
        variables=variables,
        guide=guide,
        conversation=conversation,
        context=context,
        palette=palette,
        style_guide_id=style_guide_id,
        template_version_id=template_version_id,
        template_name=template_name,
    )
    inputs = _input_images_save(prompt=prompt, processed=processed, saved=saved)
    output = _output_save(
        prompt=prompt, model_version=model_version, count=count, seed=seed, temperature=temperature
    )

    if version is not None:
        PromptTemplateVersion.objects.filter(pk=version.pk).update(usage_count=F("usage_count") + 1)
    if conversation is not None:
        conversation_context_carry(
            conversation=conversation,
            carried=carried,
            guide=guide,
            palette=palette,
            version=version,
            variables=variables,
            prompt=prompt,
            output=output,
        )

    job_enqueue(output)
    return generation_created(output=output, input_images=inputs)


def _prompt_save(
    *,
    user: Any,
    text: str,
    version: PromptTemplateVersion | None,
    variables: dict[str, Any],
    guide: StyleGuide | None,
    conversation: Conversation | None,
    context: str | None,
    palette: dict[str, Any],
    style_guide_id: Any,
    template_version_id: Any,
    template_name: str,
) -> Prompt:
    """The Prompt row: what was asked, the conditioning it gets and what the conversation carried."""
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
    return prompt


def _input_images_save(
    *, prompt: Prompt, processed: list[ProcessedImage], saved: list[str]
) -> list[InputImage]:
    """The input images' rows and files (each file's name added to `saved`, removed if the rows roll back)."""
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
    return inputs


def _output_save(
    *, prompt: Prompt, model_version: SLMModel, count: int, seed: int, temperature: float
) -> DesignOutput:
    """The DesignOutput row: the job, pending."""
    output = DesignOutput(
        prompt=prompt,
        model_version=model_version,
        requested_count=count,
        seed=seed,
        temperature=temperature,
        status=JobStatus.PENDING,
    )
    clean_new_row(output, trusted=("prompt", "model_version"))
    output.save()
    return output
