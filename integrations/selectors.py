"""Reads of webhook subscriptions."""

from __future__ import annotations

from integrations.models import WebhookSubscription


def subscriptions_want(event_type: str) -> bool:
    """Whether an active subscription wants events of this type now (subscriptions are few: their event
    lists are read whole, which works on SQLite as on PostgreSQL)."""
    return any(
        sub.wants(event_type) for sub in WebhookSubscription.objects.filter(active=True).only("events")
    )
