"""What a generation request resolves before its rows are written: the conversation it continues (locked),
the template and the prompt text rendered from it, the style guide, the palette and the conditioning
text the model reads. Each step raises a ValidationError on its field; nothing here writes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from catalog.errors import CatalogErrorCode
from catalog.models import PromptTemplateVersion, StyleGuide
from catalog.selectors import prompt_template_label_list, prompt_template_version_list, style_guide_list
from catalog.style import conditioning_text
from generation.errors import GenerationErrorCode
from generation.models import Conversation

# The longest prompt the model is given, whether typed or rendered from a template and its variables.
MAX_PROMPT_CHARS = 4000


def visible_template_versions(user: Any) -> Any:
    return (
        prompt_template_version_list()
        .filter(template__deleted_at__isnull=True)
        .filter(Q(template__is_public=True) | Q(template__created_by=user))
    )


def template_resolve(
    *, user: Any, template_version_id: Any, template_name: str
) -> PromptTemplateVersion | None:
    if template_version_id:
        version = visible_template_versions(user).filter(pk=template_version_id).first()
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


def palette_choice(
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


def conversation_lock(*, user: Any, conversation_id: Any) -> Conversation | None:
    """The user's active conversation this request continues, locked until the request's rows commit."""
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
    return conversation


def prompt_text_resolve(
    *,
    user: Any,
    text: str,
    template_version_id: Any,
    template_name: str,
    variables: dict[str, Any],
    carried: dict[str, Any],
) -> tuple[PromptTemplateVersion | None, str, dict[str, Any]]:
    """The template (given, or carried by the conversation), the prompt text (typed, or rendered from the
    template) and the template's own variables."""
    version = template_resolve(
        user=user, template_version_id=template_version_id, template_name=template_name
    )
    if version is None and not text and carried.get("template_version_id"):
        version = visible_template_versions(user).filter(pk=carried["template_version_id"]).first()
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
    return version, text, variables


def style_guide_resolve(*, style_guide_id: Any, carried: dict[str, Any]) -> StyleGuide | None:
    """The published style guide asked for, or the one the conversation carries (gone: none)."""
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
    return guide
