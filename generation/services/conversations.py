"""Conversations: start one, and what one carries to its next prompt (style guide, palette, template
and its variables, the last request) once a request continues it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import PromptTemplateVersion, StyleGuide
from generation.models import Conversation, DesignOutput, Prompt


@transaction.atomic
def conversation_create(*, user: Any, title: str = "") -> Conversation:
    conversation = Conversation(user=user, title=title)
    conversation.full_clean()
    conversation.save()
    return conversation


def conversation_context_carry(
    *,
    conversation: Conversation,
    carried: dict[str, Any],
    guide: StyleGuide | None,
    palette: dict[str, Any],
    version: PromptTemplateVersion | None,
    variables: dict[str, Any],
    prompt: Prompt,
    output: DesignOutput,
) -> None:
    """What the conversation carries to its next prompt, and its message count."""
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
