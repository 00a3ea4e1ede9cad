"""Webhook subscriptions, the deliveries of each event to each subscription, and every attempt."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.jobs.models import Job
from core.models import BaseModel, OutboxEvent


class WebhookSubscription(BaseModel):
    url = models.URLField(max_length=2000, help_text="Where events are POSTed (https recommended).")
    description = models.CharField(max_length=200, blank=True)
    # Event types this endpoint hears; generation.completed only when listed (opt-in).
    events = models.JSONField(
        default=list, blank=True, help_text="Event types; empty means every event but the opt-in ones."
    )
    # The signing secret, Fernet-encrypted (integrations.crypto); shown once, at creation or rotation.
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(default=True)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )

    class Meta(BaseModel.Meta):
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        from core.events import OPT_IN_EVENTS

        if event_type in self.events:
            return True
        return not self.events and event_type not in OPT_IN_EVENTS


class WebhookDelivery(Job):
    """One event to one subscription: a job (core.jobs) whose every HTTP attempt is logged."""

    exhausted_message = "The delivery's worker stopped several times; replay it."

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64, db_index=True)
    tries = models.PositiveIntegerField(default=0)  # HTTP attempts (Job.attempts counts claims)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta(Job.Meta):
        verbose_name_plural = "webhook deliveries"
        constraints = [
            *Job.Meta.constraints,
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscription_id}"


class WebhookAttempt(BaseModel):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)  # the first 1 KB of the body
    error = models.CharField(max_length=500, blank=True)

    class Meta(BaseModel.Meta):
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
