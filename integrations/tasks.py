"""Webhook jobs: a delivery attempt (a core.jobs kind) and the outbox dispatcher; the sweeper runs in
every worker now and then (core.jobs.periodic)."""

from __future__ import annotations

import logging

import dramatiq

from core.jobs.actor import job_actor
from integrations.models import WebhookDelivery
from integrations.services.delivery import webhook_delivery_attempt
from integrations.services.dispatch import deliveries_resend_lost, outbox_dispatch

log = logging.getLogger(__name__)


@job_actor(
    WebhookDelivery, queue_name="webhooks", time_limit=120_000, select_related=("subscription", "event")
)
def deliver_webhook(delivery: WebhookDelivery) -> None:
    webhook_delivery_attempt(delivery=delivery)


@dramatiq.actor(queue_name="webhooks", max_retries=0, time_limit=120_000)
def dispatch_events() -> None:
    outbox_dispatch()


def dispatch_soon() -> None:
    """After a commit that wrote events: wake a dispatcher. A broker that is down only delays them: the
    sweeper finds the rows."""
    try:
        dispatch_events.send()
    except Exception:
        log.warning("could not wake the webhook dispatcher; the sweeper will deliver", exc_info=True)


def sweep() -> None:
    while outbox_dispatch():
        pass
    deliveries_resend_lost()
