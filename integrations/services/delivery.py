"""One attempt of one delivery, signed as Standard Webhooks says, logged, and then: done, retried later
(exponential backoff over about a day), or failed. An endpoint failing for WEBHOOK_DISABLE_AFTER_SECONDS
is switched off. The secret is decrypted only to sign and never written anywhere."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks import Webhook

from core.jobs.kinds import kind_of
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from integrations import transport
from integrations.crypto import secret_decrypt
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.safety import target_resolve

log = logging.getLogger(__name__)


def backoff(tries: int) -> timedelta:
    """The wait after the `tries`-th failed attempt: base, x3 each time (60 s base: ~18 h over 8 attempts)."""
    return timedelta(seconds=settings.WEBHOOK_BACKOFF_BASE_SECONDS * 3 ** max(0, tries - 1))


def event_body(delivery: WebhookDelivery) -> bytes:
    event = delivery.event
    body = {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(delivery: WebhookDelivery, body: bytes, now: datetime) -> dict[str, str]:
    msg_id = f"msg_{delivery.event_id}"  # the same on every retry and replay: receivers de-duplicate on it
    signature = Webhook(secret_decrypt(delivery.subscription.secret_encrypted)).sign(msg_id, now, body)
    return {
        "content-type": "application/json",
        "user-agent": "Atelier-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _send(delivery: WebhookDelivery, now: datetime) -> transport.Answer:
    try:
        target = target_resolve(delivery.subscription.url)  # resolved now, connected to as checked
    except ValidationError as exc:
        return transport.Answer(None, 0, "", "; ".join(exc.message_dict.get("url", ["refused"]))[:500])
    body = event_body(delivery)
    return transport.post(
        target, body, signed_headers(delivery, body, now), timeout=settings.WEBHOOK_TIMEOUT_SECONDS
    )


def webhook_delivery_attempt(*, delivery: WebhookDelivery) -> None:
    """The actor's body: `delivery` is claimed (core.jobs)."""
    now = timezone.now()
    if delivery.next_attempt_at and delivery.next_attempt_at > now + timedelta(seconds=1):
        # An early message (recovery re-sends pending rows): not due yet. The delayed message sent with the
        # retry, or the sweeper, brings it back; sending another here would multiply them.
        _retry_later(delivery, delivery.tries, delivery.next_attempt_at, send=False)
        return
    if not delivery.subscription.active:
        job_finish(delivery, JobStatus.CANCELLED, error="The subscription is not active.")
        return
    answer = _send(delivery, now)
    tries = delivery.tries + 1
    ok = answer.status_code is not None and 200 <= answer.status_code < 300
    with transaction.atomic():
        number = WebhookAttempt.objects.filter(delivery=delivery).count() + 1
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=answer.status_code,
            latency_ms=answer.latency_ms,
            response_excerpt=answer.excerpt,
            error=answer.error,
        )
        fields = {"tries": tries, "last_status_code": answer.status_code}
        if ok:
            job_finish(delivery, JobStatus.COMPLETED, delivered_at=timezone.now(), **fields)
            _subscription_succeeded(delivery.subscription)
            return
        error = answer.error or f"HTTP {answer.status_code}"
        _subscription_failed(delivery.subscription, now)
        if tries >= settings.WEBHOOK_MAX_ATTEMPTS:
            job_finish(delivery, JobStatus.FAILED, error=f"Gave up after {tries} attempts: {error}", **fields)
        else:
            _retry_later(
                delivery, tries, now + backoff(tries), last_status_code=answer.status_code, error=error
            )


def _retry_later(
    delivery: WebhookDelivery, tries: int, at: datetime, *, send: bool = True, **fields: object
) -> None:
    """Hand the claimed row back as pending until `at` (its claim budget starts over: it did not crash)."""
    values = {"status": JobStatus.PENDING, "worker_id": "", "heartbeat_at": None, "attempts": 0}
    if "error" in fields:
        values["error_message"] = str(fields.pop("error"))[:5000]
    with transaction.atomic():
        held = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=JobStatus.RUNNING, worker_id=delivery.worker_id
        )
        if not held.update(tries=tries, next_attempt_at=at, updated_at=timezone.now(), **values, **fields):
            return
        if send:
            _send_at(delivery.pk, at)


def _send_at(pk: object, at: datetime) -> None:
    kind = kind_of(WebhookDelivery)
    assert kind is not None, "integrations.tasks registers the delivery actor"
    delay_ms = max(0, int((at - timezone.now()).total_seconds() * 1000))
    transaction.on_commit(lambda: kind.actor.send_with_options(args=(str(pk),), delay=delay_ms))


def _subscription_succeeded(subscription: WebhookSubscription) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk, failing_since__isnull=False).update(
        failing_since=None
    )


def _subscription_failed(subscription: WebhookSubscription, now: datetime) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    cutoff = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    reason = f"Disabled at {now:%Y-%m-%d %H:%M} UTC: every delivery failed since {{}}."
    for sub in WebhookSubscription.objects.filter(
        Q(pk=subscription.pk) & Q(active=True, failing_since__lte=cutoff)
    ):
        sub.active, sub.disabled_reason = False, reason.format(f"{sub.failing_since:%Y-%m-%d %H:%M} UTC")
        sub.save(update_fields=["active", "disabled_reason", "updated_at"])
        log.warning("webhook subscription %s disabled after a day of failures", sub.pk)


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, whatever became of it, with a fresh budget of attempts."""
    row = WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
    if row.status == JobStatus.RUNNING:
        raise ValidationError("This delivery is being attempted now.")
    if not row.subscription.active:
        raise ValidationError("The subscription is not active: switch it on first.")
    now = timezone.now()
    row.status, row.attempts, row.tries, row.worker_id = JobStatus.PENDING, 0, 0, ""
    row.next_attempt_at, row.finished_at, row.error_message, row.heartbeat_at = now, None, "", None
    row.save()
    _send_at(row.pk, now)
    return row
