"""Retention of webhook history: outbox events past their age, with their deliveries and attempts (which
cascade from the event). An event still waiting to be dispatched, or with a delivery not yet ended
(pending, or running its retries), is kept whatever its age: purging it would lose a delivery."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from core.jobs.models import ACTIVE
from core.models import OutboxEvent
from integrations.models import WebhookAttempt, WebhookDelivery

CHUNK = 500


def _expired(before: datetime):  # noqa: ANN202 (a queryset)
    busy = WebhookDelivery.objects.filter(status__in=ACTIVE).values("event_id")
    return OutboxEvent.objects.filter(created_at__lt=before, dispatched_at__isnull=False).exclude(pk__in=busy)


def purge_webhooks(*, before: datetime, dry_run: bool = False) -> int:
    """Delete expired events, their deliveries and attempts; returns the rows (of all three) purged."""
    events = _expired(before)
    if dry_run:
        deliveries = WebhookDelivery.objects.filter(event__in=events)
        attempts = WebhookAttempt.objects.filter(delivery__in=deliveries)
        return events.count() + deliveries.count() + attempts.count()
    n = 0
    while ids := list(_expired(before).values_list("pk", flat=True)[:CHUNK]):
        with transaction.atomic():
            n += OutboxEvent.objects.filter(pk__in=ids).delete()[0]  # cascades to deliveries, attempts
    return n
