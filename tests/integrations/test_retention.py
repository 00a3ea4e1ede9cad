"""Webhook history joins the retention purge (`purge_expired`): outbox events past RETAIN_WEBHOOKS_DAYS go,
with their deliveries and attempts, unless a delivery has not ended yet or the event was never dispatched."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.jobs.models import JobStatus
from core.models import OutboxEvent
from integrations.models import WebhookAttempt, WebhookDelivery
from integrations.services.subscriptions import webhook_subscription_create

pytestmark = pytest.mark.django_db


def _event(days_old: int, *, status: str | None = JobStatus.COMPLETED, dispatched: bool = True, sub=None):
    when = timezone.now() - timedelta(days=days_old)
    event = OutboxEvent.objects.create(
        type="alias.moved", payload={}, dispatched_at=when if dispatched else None
    )
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=when)
    if status is not None:
        delivery = WebhookDelivery.objects.create(
            subscription=sub, event=event, event_type=event.type, status=status, tries=2
        )
        for number in (1, 2):
            WebhookAttempt.objects.create(delivery=delivery, number=number, status_code=500 + number)
    return event


def test_old_webhook_history_is_purged_and_live_deliveries_are_kept(webhook_settings, settings) -> None:
    settings.GENERATION_RETENTION_DAYS = {**settings.GENERATION_RETENTION_DAYS, "webhooks": 30}
    sub, _ = webhook_subscription_create(url="http://127.0.0.1:9/hook", events=[])
    delivered = _event(40, sub=sub)
    given_up = _event(31, status=JobStatus.FAILED, sub=sub)
    retrying = _event(45, status=JobStatus.RUNNING, sub=sub)  # still within its retries: kept
    undispatched = _event(60, status=None, dispatched=False)  # the sweeper has yet to send it: kept
    fresh = _event(29, sub=sub)

    out = StringIO()
    call_command("purge_expired", "--dry-run", stdout=out)
    # 2 events, their 2 deliveries and 4 attempts
    assert "webhooks: would purge 8 (older than 30 days)" in out.getvalue()
    assert OutboxEvent.objects.count() == 5

    out = StringIO()
    call_command("purge_expired", stdout=out)
    assert "webhooks: purged 8 (older than 30 days)" in out.getvalue()
    left = set(OutboxEvent.objects.values_list("pk", flat=True))
    assert left == {retrying.pk, undispatched.pk, fresh.pk}
    assert not WebhookDelivery.objects.filter(event__in=[delivered, given_up]).exists()
    assert WebhookDelivery.objects.count() == 2 and WebhookAttempt.objects.count() == 4
    assert not WebhookAttempt.objects.filter(delivery__event__in=[delivered, given_up]).exists()
