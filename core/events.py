"""Events other systems hear about (webhooks): emitted by the services of every app, written as an outbox
row (core.models.OutboxEvent) in the caller's transaction. Lower layers emit without knowing who listens;
integrations registers a listener that wakes its dispatcher once the transaction commits, and a sweeper
delivers whatever a dead process left behind (at least once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.urls import NoReverseMatch, reverse

from core.models import OutboxEvent

IMPORT_FINISHED = "import.finished"
SNAPSHOT_READY = "snapshot.ready"
TRAINING_RUN_FINISHED = "training_run.finished"
TRAINING_RUN_FAILED = "training_run.failed"
MODEL_VERSION_REGISTERED = "model_version.registered"
ALIAS_MOVED = "alias.moved"
FEEDBACK_CREATED = "feedback.created"
REVIEW_SETTLED = "review.settled"
GENERATION_COMPLETED = "generation.completed"

EVENT_TYPES = (
    IMPORT_FINISHED,
    SNAPSHOT_READY,
    TRAINING_RUN_FINISHED,
    TRAINING_RUN_FAILED,
    MODEL_VERSION_REGISTERED,
    ALIAS_MOVED,
    FEEDBACK_CREATED,
    REVIEW_SETTLED,
    GENERATION_COMPLETED,
)
# Sent only to subscriptions that ask for them by name (one per generation: many).
OPT_IN_EVENTS = (GENERATION_COMPLETED,)

_listeners: list[Callable[[], None]] = []
_audiences: list[Callable[[str], bool]] = []


def listen(callback: Callable[[], None]) -> None:
    """Call `callback` after each commit that wrote events (integrations wakes its dispatcher)."""
    if callback not in _listeners:
        _listeners.append(callback)


def audience(wants: Callable[[str], bool]) -> None:
    """Register who decides whether anyone wants an opt-in event now (integrations: an active subscription
    that named it). With nobody, such an event is not written at all."""
    if wants not in _audiences:
        _audiences.append(wants)


def api_url(route: str, /, **kwargs: Any) -> str:
    """The API path of an object (relative: receivers know our host), or "" where there is none."""
    try:
        return reverse(f"api:{route}", kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def event_emit(
    *, type: str, obj_id: Any, url: str = "", summary: dict[str, Any] | None = None
) -> OutboxEvent | None:
    """Write an event in the caller's transaction: `{id, url, summary}` is its payload. An opt-in event
    nobody asked for is not written (None): one per generation would cost every request a row, a broker
    message and a dispatcher run for no receiver."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    if type in OPT_IN_EVENTS and not any(wants(type) for wants in list(_audiences)):
        return None
    payload = {"id": str(obj_id), "url": url, "summary": summary or {}}
    event = OutboxEvent.objects.create(type=type, payload=payload)
    for callback in list(_listeners):
        transaction.on_commit(callback)
    return event
