"""Reads of prompts, designs and the request log, shared by the admin and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from core.jobs.models import TERMINAL
from generation.events import Finished
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


# --- the API: a user's own requests ------------------------------------------------------------------

POLL_SECONDS = 0.1


def generation_list(*, user: Any) -> QuerySet[DesignOutput]:
    """A user's generation requests with everything the API shows, in a constant number of queries."""
    return (
        DesignOutput.objects.filter(prompt__user=user, prompt__deleted_at__isnull=True)
        .select_related(
            "prompt", "prompt__template_version__template", "prompt__style_guide", "model_version"
        )
        .prefetch_related(
            Prefetch("images", queryset=OutputImage.objects.order_by("sequence_order", "file_type")),
            Prefetch("prompt__input_images", queryset=InputImage.objects.order_by("created_at")),
        )
        .order_by("-created_at")
    )


def generation_get(*, user: Any, output_id: Any) -> DesignOutput | None:
    return generation_list(user=user).filter(pk=output_id).first()


def generation_wait(*, user: Any, output: DesignOutput, timeout: float) -> DesignOutput | None:
    """Block until a request this call has just created is completed or failed, or `timeout` seconds
    pass; then the request as it now stands (generation_apply or generation_refresh).

    A worker in this process wakes the wait at once (generation.events) and hands over what it
    committed, which is believed without reading it back; another process's worker wakes it through
    Redis, and the row is read again. Should a wake-up be lost, the row is polled every POLL_SECONDS.
    Called right after the request was queued, so it waits before it first looks."""
    import time

    from generation import events

    deadline = time.monotonic() + max(0.0, timeout)
    with events.waiting_for(output.pk) as waiter:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or waiter.wait(min(POLL_SECONDS, remaining)):
                break
            status = DesignOutput.objects.filter(pk=output.pk).values_list("status", flat=True).first()
            if status is None or status in TERMINAL:
                break
    if waiter.finished is not None:
        return generation_apply(output=output, finished=waiter.finished)
    return generation_refresh(user=user, output=output)


def generation_apply(*, output: DesignOutput, finished: Finished) -> DesignOutput:
    """The caller's request as a worker of this process committed it (events.Finished): its row with
    the new field values and the inserted designs, without reading them back."""
    for name, value in finished.fields.items():
        setattr(output, name, value)
    _prefetched(output, "images", list(finished.images))
    return output


def _prefetched(instance: Any, name: str, objs: list[Any]) -> None:
    """Give `instance.<name>.all()` these rows, as prefetch_related would have."""
    cache = getattr(instance, "_prefetched_objects_cache", None)
    if cache is None:
        cache = instance._prefetched_objects_cache = {}
    cache[name] = objs


def generation_created(*, output: DesignOutput, input_images: list[InputImage]) -> DesignOutput:
    """A request generation_create has just stored, with the input images it stored: the API answers
    from these objects, so their relations are known without a query."""
    _prefetched(output.prompt, "input_images", list(input_images))
    return output


def generation_refresh(*, user: Any, output: DesignOutput) -> DesignOutput | None:
    """A request the caller created, read again for what the worker changes (its row and designs): the
    prompt, its template, style guide and model version are the caller's own objects, so this is two
    small queries instead of generation_get's joins."""
    fresh = (
        DesignOutput.objects.filter(pk=output.pk, prompt__user=user, prompt__deleted_at__isnull=True)
        .prefetch_related(
            Prefetch("images", queryset=OutputImage.objects.order_by("sequence_order", "file_type")),
        )
        .first()
    )
    if fresh is not None:
        fresh.prompt = output.prompt
        fresh.model_version = output.model_version
    return fresh


def output_image_get(*, user: Any, output_id: Any, sequence_order: int, file_type: str) -> OutputImage | None:
    return (
        OutputImage.objects.filter(
            output_id=output_id,
            output__prompt__user=user,
            output__prompt__deleted_at__isnull=True,
            sequence_order=sequence_order,
            file_type=file_type,
        )
        .select_related("output")
        .first()
    )


def input_image_get(*, user: Any, output_id: Any, image_id: Any) -> InputImage | None:
    return InputImage.objects.filter(
        pk=image_id, prompt__output__pk=output_id, prompt__user=user, prompt__deleted_at__isnull=True
    ).first()


def conversation_get(*, user: Any, conversation_id: Any) -> Conversation | None:
    return conversation_list(user=user).filter(pk=conversation_id).first()
