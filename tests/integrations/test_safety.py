"""Where a webhook may not go, and what never shows: private addresses are refused with a field error
(in the service, the admin form, and again at delivery time); the secret is shown once and never again,
in no page, log line or audit entry."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import events
from core.jobs.actor import job_run
from core.jobs.models import JobStatus
from core.roles import CURATORS, ML_STAFF
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.services.delivery import webhook_delivery_attempt
from integrations.services.dispatch import outbox_dispatch
from integrations.services.subscriptions import webhook_subscription_create
from tests.shared_fixtures import user_in_role

pytestmark = pytest.mark.django_db

PRIVATE = [
    "http://127.0.0.1/hook",
    "http://localhost:8000/hook",
    "http://10.1.2.3/hook",
    "https://192.168.0.5/hook",
    "http://172.16.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_the_service_refuses_a_private_address_with_a_field_error(url, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as refused:
        webhook_subscription_create(url=url, events=[])
    assert "private, loopback or link-local" in refused.value.message_dict["url"][0]
    assert not WebhookSubscription.objects.exists()


def test_other_bad_urls_are_field_errors_too(settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for url in ["ftp://example.com/x", "http://user:pw@example.com/", "http://no-such-host.invalid/"]:
        with pytest.raises(ValidationError) as refused:
            webhook_subscription_create(url=url, events=[])
        assert "url" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        webhook_subscription_create(url="http://93.184.215.14/", events=["no.such.event"])
    assert "events" in refused.value.message_dict


def test_the_admin_form_shows_the_field_error_and_stores_nothing(client, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    client.force_login(user_in_role("mlops", ML_STAFF, is_staff=True))
    response = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {"url": "http://10.0.0.7/hook", "description": "internal", "active": "on"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [
        "10.0.0.7 resolves to a private, loopback or link-local address (10.0.0.7)."
    ]
    assert not WebhookSubscription.objects.exists()


def test_an_address_that_turned_private_is_refused_at_delivery(receiver, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    webhook_subscription_create(url=receiver.url, events=[])
    events.event_emit(type=events.SNAPSHOT_READY, obj_id="5d0c7d1e-0000-4000-8000-000000000010")
    outbox_dispatch()
    settings.WEBHOOKS_ALLOW_PRIVATE = False  # the name resolves elsewhere now (rebinding), say
    delivery = WebhookDelivery.objects.get()
    job_run(WebhookDelivery, delivery.pk, lambda d: webhook_delivery_attempt(delivery=d))
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "private, loopback or link-local" in attempt.error
    assert receiver.got == []


def _deliver_all() -> None:
    outbox_dispatch()
    for pk in WebhookDelivery.objects.filter(status=JobStatus.PENDING).values_list("pk", flat=True):
        job_run(WebhookDelivery, pk, lambda d: webhook_delivery_attempt(delivery=d))


def test_the_secret_is_shown_once_and_never_again(client, receiver, settings, caplog) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    caplog.set_level(logging.DEBUG)
    client.force_login(user_in_role("curator", CURATORS, is_staff=True))
    created = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {"url": receiver.url, "description": "ci", "active": "on", "events": [events.ALIAS_MOVED]},
    )
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", created.content.decode()).group(0)
    sub = WebhookSubscription.objects.get()
    assert sub.events == [events.ALIAS_MOVED] and sub.created_by.username == "curator"

    events.event_emit(type=events.ALIAS_MOVED, obj_id=sub.pk, summary={"to": "x"})
    _deliver_all()
    assert len(receiver.got) == 1
    delivery = WebhookDelivery.objects.get()
    pages = [
        "/admin/integrations/webhooksubscription/",
        f"/admin/integrations/webhooksubscription/{sub.pk}/change/",
        "/admin/integrations/webhookdelivery/",
        f"/admin/integrations/webhookdelivery/{delivery.pk}/change/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert secret not in response.content.decode(), page
    body = secret.removeprefix("whsec_")
    assert body not in sub.secret_encrypted
    assert secret not in caplog.text and body not in caplog.text
    assert not any(secret in str(e.changes) or body in str(e.changes) for e in LogEntry.objects.all())
    assert LogEntry.objects.filter(object_pk=str(sub.pk)).exists()  # audited, without the secret


def test_an_endpoint_failing_for_a_day_is_switched_off_with_an_admin_notice(
    receiver, settings, client
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver.statuses = [500, 500]
    sub, _ = webhook_subscription_create(url=receiver.url, events=[])
    events.event_emit(type=events.SNAPSHOT_READY, obj_id="5d0c7d1e-0000-4000-8000-000000000011")
    _deliver_all()
    sub.refresh_from_db()
    assert sub.active and sub.failing_since is not None  # failing, not yet for a day

    WebhookSubscription.objects.filter(pk=sub.pk).update(failing_since=timezone.now() - timedelta(hours=25))
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    for pk in WebhookDelivery.objects.values_list("pk", flat=True):
        job_run(WebhookDelivery, pk, lambda d: webhook_delivery_attempt(delivery=d))
    sub.refresh_from_db()
    assert not sub.active and "every delivery failed since" in sub.disabled_reason

    client.force_login(user_in_role("mlops", ML_STAFF, is_staff=True))
    page = client.get("/admin/integrations/webhooksubscription/").content.decode()
    assert "was switched off" in page and "every delivery failed since" in page


def test_replay_needs_the_permission_curators_and_ml_staff_hold(client) -> None:
    client.force_login(user_in_role("viewer", None, is_staff=True))
    assert client.get("/admin/integrations/webhookdelivery/").status_code == 403
    client.force_login(user_in_role("mlops", ML_STAFF, is_staff=True))
    page = client.get("/admin/integrations/webhookdelivery/").content.decode()
    assert 'value="replay"' in page


def test_a_message_before_the_backoff_ends_attempts_nothing_and_sends_nothing(
    receiver, settings, stub_broker, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    webhook_subscription_create(url=receiver.url, events=[])
    events.event_emit(type=events.SNAPSHOT_READY, obj_id="5d0c7d1e-0000-4000-8000-000000000012")
    outbox_dispatch()
    later = timezone.now() + timedelta(hours=1)
    WebhookDelivery.objects.update(next_attempt_at=later)
    stub_broker.flush_all()
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):  # what a commit would send, sent
        job_run(WebhookDelivery, delivery.pk, lambda d: webhook_delivery_attempt(delivery=d))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (JobStatus.PENDING, 0, later)
    assert receiver.got == [] and not WebhookAttempt.objects.exists()
    assert all(not stub_broker.queues[q].qsize() for q in stub_broker.queues)  # no extra message
