"""Subscriptions: created, changed and given a new secret here. The secret is returned once, to be shown
once; only its encryption is stored."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.events import EVENT_TYPES
from integrations.crypto import secret_encrypt, secret_new
from integrations.models import WebhookSubscription
from integrations.safety import target_resolve


def events_clean(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"events": f"Unknown event type(s): {', '.join(unknown)}."})
    return [e for e in EVENT_TYPES if e in events]


@transaction.atomic
def webhook_subscription_create(
    *, url: str, events: list[str], description: str = "", active: bool = True, created_by: Any = None
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (plain, for the one time it is shown)."""
    target_resolve(url)  # a private address is refused here, with a field error
    secret = secret_new()
    subscription = WebhookSubscription(
        url=url,
        events=events_clean(events),
        description=description,
        active=active,
        secret_encrypted=secret_encrypt(secret),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    subscription.full_clean()
    subscription.save()
    return subscription, secret


@transaction.atomic
def webhook_subscription_update(
    *, subscription: WebhookSubscription, url: str, events: list[str], description: str, active: bool
) -> WebhookSubscription:
    if url != subscription.url:
        target_resolve(url)
    if active and not subscription.active:  # switched back on: its day of failures starts over
        subscription.failing_since, subscription.disabled_reason = None, ""
    subscription.url, subscription.events = url, events_clean(events)
    subscription.description, subscription.active = description, active
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def webhook_secret_rotate(*, subscription: WebhookSubscription) -> str:
    """A new secret replaces the old one at once; returned plain, to be shown once."""
    secret = secret_new()
    subscription.secret_encrypted = secret_encrypt(secret)
    subscription.save(update_fields=["secret_encrypted", "updated_at"])
    return secret
