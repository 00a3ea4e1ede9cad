"""Webhooks end to end: events written by services reach a real receiver on loopback through the outbox,
the dispatcher and the delivery job (stub broker, real worker threads, PostgreSQL), signed as Standard
Webhooks says; failures are retried and every attempt is logged."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from core import events
from core.jobs.models import JobStatus
from core.models import OutboxEvent
from generation.models import DesignOutput, Prompt
from integrations.crypto import secret_decrypt
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.services.delivery import webhook_delivery_replay
from integrations.services.subscriptions import webhook_subscription_create
from tests.factories import TrainingExampleFactory, UserFactory
from tests.integrations.conftest import wait_until
from training.models import SLMModel
from training.services.registry import model_alias_move

pytestmark = pytest.mark.django_db(transaction=True)


def _subscribe(url: str, events_: list[str] | None = None) -> tuple[WebhookSubscription, str]:
    return webhook_subscription_create(url=url, events=events_ or [])


def _verified(secret: str, got) -> list[dict]:
    return [Webhook(secret).verify(r.body, r.headers) for r in got]


def test_every_event_reaches_the_receiver_signed(receiver, webhook_settings, stub_worker) -> None:
    sub, secret = _subscribe(receiver.url, list(events.EVENT_TYPES))  # generation.completed opted in
    user = UserFactory(username="maker")
    old = SLMModel.objects.create(model_name="icons", version=1, storage_path="")
    new = SLMModel.objects.create(model_name="icons", version=2, storage_path="")
    model_alias_move(name="staging", model_version=old, system=True)
    model_alias_move(name="staging", model_version=new, moved_by=user, system=True, note="better icons")
    output = DesignOutput.objects.create(
        prompt=Prompt.objects.create(user=user, text_content="a cat"), status=JobStatus.COMPLETED
    )
    from feedback.services import feedback_upsert

    feedback = feedback_upsert(output=output, user=user, rating=4)
    from training.services.reviews import review_submit

    example = TrainingExampleFactory(status="draft")
    review_submit(example=example, reviewer=user, verdict="accept", score=5)  # one review decides
    review_submit(example=example, reviewer=user, verdict="accept", score=5)  # unchanged: no second event
    others = set(events.EVENT_TYPES) - {events.ALIAS_MOVED, events.FEEDBACK_CREATED, events.REVIEW_SETTLED}
    for event_type in sorted(others):
        with transaction.atomic():
            events.event_emit(type=event_type, obj_id=output.pk, summary={"n": 1})

    got = receiver.wait_for(len(others) + 4)
    bodies = _verified(secret, got)  # raises WebhookVerificationError on any bad signature
    assert {b["type"] for b in bodies} == set(events.EVENT_TYPES)
    moves = [b["data"] for b in bodies if b["type"] == events.ALIAS_MOVED]
    assert moves[-1]["summary"] | {} == {
        "name": "staging",
        "from": str(old),
        "from_id": str(old.pk),
        "to": str(new),
        "to_id": str(new.pk),
        "who": "maker",
        "why": "better icons",
    }
    assert moves[-1]["url"] == "/api/v1/aliases/staging/"
    rated = next(b["data"] for b in bodies if b["type"] == events.FEEDBACK_CREATED)
    assert rated["id"] == str(feedback.pk) and rated["summary"]["rating"] == 4
    assert rated["url"] == f"/api/v1/feedback/{feedback.pk}/"
    (settled,) = [b["data"] for b in bodies if b["type"] == events.REVIEW_SETTLED]
    assert settled["id"] == str(example.pk) and settled["url"] == f"/api/v1/examples/{example.pk}/reviews/"
    assert settled["summary"] | {} == {
        "status": "approved",
        "state": "accepted",
        "reviews": 1,
        "by": "maker",
        "quality_score": settled["summary"]["quality_score"],
    }
    assert OutboxEvent.objects.filter(type=events.REVIEW_SETTLED).count() == 1
    assert all(r.headers["webhook-id"].startswith("msg_") for r in got)
    wait_until(lambda: not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists())
    wait_until(lambda: WebhookDelivery.objects.filter(status=JobStatus.COMPLETED).count() == len(got))


def test_a_receiver_failing_twice_gets_the_event_three_times_all_logged(
    receiver, webhook_settings, stub_worker
) -> None:
    receiver.statuses = [500, 500, 200]
    _, secret = _subscribe(receiver.url)
    with transaction.atomic():
        event = events.event_emit(type=events.SNAPSHOT_READY, obj_id="5d0c7d1e-0000-4000-8000-000000000001")

    got = receiver.wait_for(3)
    delivery = WebhookDelivery.objects.get(event=event)
    wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == JobStatus.COMPLETED)
    assert len(_verified(secret, got)) == 3
    assert len({r.headers["webhook-id"] for r in got}) == 1  # one message, three attempts
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert all(len(a.response_excerpt) == 1024 and a.latency_ms >= 0 for a in attempts)
    delivery.refresh_from_db()
    assert delivery.tries == 3 and delivery.delivered_at is not None and delivery.last_status_code == 200
    assert len(receiver.got) == 3


def test_a_delivery_gives_up_after_its_attempts_and_replay_sends_it_again(
    receiver, webhook_settings, stub_worker
) -> None:
    receiver.statuses = [503] * 4
    _, secret = _subscribe(receiver.url)
    with transaction.atomic():
        event = events.event_emit(type=events.IMPORT_FINISHED, obj_id="5d0c7d1e-0000-4000-8000-000000000002")
    receiver.wait_for(4)
    wait_until(lambda: WebhookDelivery.objects.get(event=event).status == JobStatus.FAILED)
    delivery = WebhookDelivery.objects.get(event=event)
    assert "Gave up after 4 attempts: HTTP 503" in delivery.error_message

    with transaction.atomic():
        webhook_delivery_replay(delivery=delivery)
    receiver.wait_for(5)
    wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == JobStatus.COMPLETED)
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 5
    assert len(_verified(secret, receiver.got)) == 5


def test_redirects_are_not_followed(receiver, webhook_settings, stub_worker) -> None:
    receiver.statuses = [302] * 4
    receiver.extra_headers = {"location": "http://169.254.169.254/latest/meta-data/"}
    _subscribe(receiver.url)
    with transaction.atomic():
        event = events.event_emit(type=events.IMPORT_FINISHED, obj_id="5d0c7d1e-0000-4000-8000-000000000003")
    receiver.wait_for(4)
    wait_until(lambda: WebhookDelivery.objects.get(event=event).status == JobStatus.FAILED)
    assert set(WebhookAttempt.objects.values_list("status_code", flat=True)) == {302}
    assert {r.path for r in receiver.got} == {"/hook"}


def test_generation_completed_goes_only_to_subscriptions_that_opt_in(
    receiver, webhook_settings, stub_worker
) -> None:
    plain, _ = _subscribe(receiver.url)
    opted, secret = _subscribe(receiver.url, [events.GENERATION_COMPLETED])
    with transaction.atomic():
        events.event_emit(type=events.GENERATION_COMPLETED, obj_id="5d0c7d1e-0000-4000-8000-000000000004")
    got = receiver.wait_for(1)
    assert _verified(secret, got)[0]["type"] == events.GENERATION_COMPLETED
    assert not WebhookDelivery.objects.filter(subscription=plain).exists()
    assert WebhookDelivery.objects.filter(subscription=opted).count() == 1
    assert secret_decrypt(opted.secret_encrypted) == secret


def test_an_opt_in_event_nobody_named_is_not_written(webhook_settings) -> None:
    _subscribe("http://127.0.0.1:9/plain")  # every event but the opt-in ones
    off, _ = _subscribe("http://127.0.0.1:9/off", [events.GENERATION_COMPLETED])
    WebhookSubscription.objects.filter(pk=off.pk).update(active=False)  # named it, but switched off
    with transaction.atomic():
        assert events.event_emit(type=events.GENERATION_COMPLETED, obj_id="x") is None
        assert events.event_emit(type=events.FEEDBACK_CREATED, obj_id="y") is not None
    assert list(OutboxEvent.objects.values_list("type", flat=True)) == [events.FEEDBACK_CREATED]
    _subscribe("http://127.0.0.1:9/opted", [events.GENERATION_COMPLETED])
    with transaction.atomic():
        assert events.event_emit(type=events.GENERATION_COMPLETED, obj_id="z") is not None


def test_the_outbox_row_rolls_back_with_its_write(webhook_settings) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        events.event_emit(type=events.SNAPSHOT_READY, obj_id="5d0c7d1e-0000-4000-8000-000000000005")
        raise RuntimeError("the write failed")
    assert not OutboxEvent.objects.exists()


def test_the_body_is_the_standard_webhooks_envelope(receiver, webhook_settings, stub_worker) -> None:
    _, secret = _subscribe(receiver.url)
    with transaction.atomic():
        events.event_emit(
            type=events.SNAPSHOT_READY,
            obj_id="5d0c7d1e-0000-4000-8000-000000000006",
            url="/x",
            summary={"a": 1},
        )
    (r,) = receiver.wait_for(1)
    body = json.loads(r.body)
    assert body["type"] == events.SNAPSHOT_READY and body["timestamp"]
    assert body["data"] == {"id": "5d0c7d1e-0000-4000-8000-000000000006", "url": "/x", "summary": {"a": 1}}
    assert r.headers["host"] == receiver.url.split("/")[2]  # the URL's host, though we connect by address
    assert r.headers["content-type"] == "application/json"
    Webhook(secret).verify(r.body, r.headers)
