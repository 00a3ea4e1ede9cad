"""Generation requests: store what was asked (text or template, style guide, conversation, input images)
and queue it; conversations that carry context to the next request.

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
from django.db.models import F, Q
from django.utils import timezone

from catalog.errors import CatalogErrorCode
from catalog.models import PromptTemplateVersion, StyleGuide
from catalog.selectors import prompt_template_label_list, prompt_template_version_list, style_guide_list
from catalog.style import conditioning_text
from core.jobs.kinds import job_enqueue
from core.jobs.models import JobStatus
from core.models import clean_new_row
from generation.errors import GenerationErrorCode
from generation.images import MAX_IMAGES, ProcessedImage, combined_palette, input_image_process
from generation.models import Conversation, DesignOutput, InputImage, Prompt
from generation.selectors import generation_created
from training.errors import TrainingErrorCode
from training.models import SLMModel
from training.selectors import model_version_resolve

MAX_COUNT = 8
MAX_TEMPERATURE = 2.0
# The longest prompt the model is given, whether typed or rendered from a template and its variables.
MAX_PROMPT_CHARS = 4000


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
            raise ValidationError(
                {
                    "template_version": ValidationError(
                        "No such template version.", code=CatalogErrorCode.UNKNOWN_TEMPLATE_VERSION
                    )
                }
            )
        return version
    if template_name:
        label = (
            prompt_template_label_list()
            .filter(name="production", template__name=template_name, template__deleted_at__isnull=True)
            .filter(Q(template__is_public=True) | Q(template__created_by=user))
            .first()
        )
        if label is None:
            message = f"No template named {template_name!r} with a production version."
            raise ValidationError(
                {"template": ValidationError(message, code=CatalogErrorCode.UNKNOWN_TEMPLATE)}
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
    conversation = None
    if conversation_id:
        conversation = (
            Conversation.objects.select_for_update()
            .filter(pk=conversation_id, user=user, status=Conversation.Status.ACTIVE)
            .first()
        )
        if conversation is None:
            raise ValidationError(
                {
                    "conversation": ValidationError(
                        "No such active conversation.", code=GenerationErrorCode.UNKNOWN_CONVERSATION
                    )
                }
            )
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
        if len(text.strip()) > MAX_PROMPT_CHARS:
            used = sorted(
                (name for name in version.variables if name in variables),
                key=lambda name: -len(str(variables[name])),
            )
            raise ValidationError(
                {
                    "variables": f"The prompt rendered from the template is {len(text.strip()):,} characters; "
                    f"the limit is {MAX_PROMPT_CHARS:,}. "
                    + (
                        f"Shorten these variables: {', '.join(used)}."
                        if used
                        else "The template is too long."
                    )
                }
            )
        # Only the template's own variables are kept with the prompt (and carried by a conversation).
        variables = {name: variables[name] for name in version.variables if name in variables}
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Give a prompt text or a template."})
    if len(text) > MAX_PROMPT_CHARS:
        raise ValidationError({"text": f"A prompt is at most {MAX_PROMPT_CHARS:,} characters."})

    guide = None
    guide_id = style_guide_id or carried.get("style_guide_id")
    if guide_id:
        guide = style_guide_list(published_only=True).filter(pk=guide_id).first()
        if guide is None and style_guide_id:
            raise ValidationError(
                {
                    "style_guide": ValidationError(
                        "No such published style guide.", code=CatalogErrorCode.UNKNOWN_STYLE_GUIDE
                    )
                }
            )

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
        status=JobStatus.PENDING,
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

    job_enqueue(output)
    return generation_created(output=output, input_images=inputs)


@transaction.atomic
def conversation_create(*, user: Any, title: str = "") -> Conversation:
    conversation = Conversation(user=user, title=title)
    conversation.full_clean()
    conversation.save()
    return conversation
