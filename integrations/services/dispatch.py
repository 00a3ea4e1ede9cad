"""The outbox fanned out: each undelivered event becomes one delivery per subscription that wants it,
and the event is stamped, in one transaction. Several dispatchers at once skip each other's rows."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.jobs.kinds import job_enqueue, kind_of
from core.jobs.models import JobStatus
from core.models import OutboxEvent
from integrations.models import WebhookDelivery, WebhookSubscription

BATCH = 500
# A due pending delivery nobody touched for this long lost its message: the sweeper sends it again.
LOST_AFTER = timedelta(seconds=60)


def outbox_dispatch(*, limit: int = BATCH) -> int:
    """Fan out up to `limit` undelivered events; how many deliveries were created."""
    now = timezone.now()
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("created_at")[:limit]
        )
        if not events:
            return 0
        subscriptions = list(WebhookSubscription.objects.filter(active=True))
        deliveries = [
            WebhookDelivery(subscription=s, event=e, event_type=e.type, next_attempt_at=now)
            for e in events
            for s in subscriptions
            if s.wants(e.type)
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
        for delivery in deliveries:
            job_enqueue(delivery)
    return len(deliveries)


def deliveries_resend_lost() -> int:
    """Send again the due pending deliveries whose message was lost (a broker restart, say)."""
    now = timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            status=JobStatus.PENDING, next_attempt_at__lte=now, updated_at__lt=now - LOST_AFTER
        ).values_list("pk", flat=True)[:BATCH]
    )
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(updated_at=now)
        kind = kind_of(WebhookDelivery)
        assert kind is not None
        for pk in ids:
            kind.actor.send(str(pk))
    return len(ids)
