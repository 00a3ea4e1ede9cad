"""Reads of prompts, designs and the request log, shared by the admin and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from generation.models import ApiRequest, Conversation, DesignOutput, InputImage, OutputImage, Prompt


def conversation_list(*, user: Any = None, include_deleted: bool = False) -> QuerySet[Conversation]:
    qs = Conversation.all_objects.all() if include_deleted else Conversation.objects.all()
    if user is not None:
        qs = qs.filter(user=user)
    return qs.select_related("user")


def prompt_list(*, user: Any = None, include_deleted: bool = False) -> QuerySet[Prompt]:
    qs = Prompt.all_objects.all() if include_deleted else Prompt.objects.all()
    if user is not None:
        qs = qs.filter(user=user)
    return qs.select_related("user", "template_version__template", "style_guide", "conversation")


def input_image_list(*, user: Any = None) -> QuerySet[InputImage]:
    qs = InputImage.objects.select_related("prompt", "prompt__user")
    return qs.filter(prompt__user=user) if user is not None else qs


def design_output_list(*, user: Any = None) -> QuerySet[DesignOutput]:
    qs = DesignOutput.objects.select_related("prompt", "prompt__user", "model_version").prefetch_related(
        Prefetch("images", queryset=OutputImage.objects.order_by("sequence_order", "file_type"))
    )
    return qs.filter(prompt__user=user, prompt__deleted_at__isnull=True) if user is not None else qs


def output_image_list() -> QuerySet[OutputImage]:
    return OutputImage.objects.select_related("output", "output__prompt")


def api_request_list() -> QuerySet[ApiRequest]:
    return ApiRequest.objects.select_related("user", "prompt")
