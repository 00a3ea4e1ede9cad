"""Webhooks in the admin (ML staff and curators): subscriptions, their secret shown once, deliveries with
every attempt, and replay."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from core.admin import BaseAdmin, ReadOnlyAdmin
from core.admin_pages import report_page
from core.events import EVENT_TYPES, OPT_IN_EVENTS
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.safety import target_resolve
from integrations.services.delivery import webhook_delivery_replay
from integrations.services.subscriptions import (
    webhook_secret_rotate,
    webhook_subscription_create,
    webhook_subscription_update,
)

_CHOICES = [(e, f"{e} (opt-in)" if e in OPT_IN_EVENTS else e) for e in EVENT_TYPES]


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https", help_text="Where events are POSTed.")
    events = forms.MultipleChoiceField(
        choices=_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event except the opt-in ones.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ("url", "description", "events", "active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if self.instance.pk is None or url != self.instance.url:
            try:
                target_resolve(url)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["url"])
        return url


def _secret_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, pairs: list[tuple[Any, str]]
) -> HttpResponse:
    response = report_page(
        request,
        model_admin,
        title="Signing secret: shown once",
        sections=[
            {
                "title": "Copy the secret now",
                "summary": "It is stored encrypted and will not be shown again; rotate it to get a new one. "
                "Verify each request with standardwebhooks.Webhook(secret).verify(body, headers).",
                "headers": ["Subscription", "Secret"],
                "rows": [[str(sub), secret] for sub, secret in pairs],
            }
        ],
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(BaseAdmin):
    form = SubscriptionForm
    list_display = ("url", "description", "active", "event_list", "failing_since", "disabled_reason")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("failing_since", "disabled_reason", "created_by")
    actions = ["rotate_secret"]

    @admin.display(description="events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events) or "all (but opt-in)"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        for sub in WebhookSubscription.objects.filter(active=False).exclude(disabled_reason="")[:20]:
            self.message_user(
                request, f"Webhook {sub} was switched off: {sub.disabled_reason}", messages.WARNING
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        data = form.cleaned_data
        fields = {"url": data["url"], "events": data["events"], "description": data["description"]}
        if change:
            webhook_subscription_update(subscription=obj, active=data["active"], **fields)
            return
        created, secret = webhook_subscription_create(
            active=data["active"], created_by=request.user, **fields
        )
        obj.pk, obj._secret_once = created.pk, secret  # for response_add, which shows it once

    def response_add(
        self, request: HttpRequest, obj: WebhookSubscription, post_url_continue: Any = None
    ) -> HttpResponse:
        return _secret_page(request, self, [(obj, obj._secret_once)])

    @admin.action(description="Rotate the signing secret (shows the new one once)", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return _secret_page(
            request, self, [(sub, webhook_secret_rotate(subscription=sub)) for sub in queryset]
        )


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = readonly_fields = (
        "number",
        "created_at",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "event_type",
        "subscription",
        "status",
        "tries",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    list_select_related = ("subscription",)
    search_fields = ("subscription__url", "event_type")
    inlines = [AttemptInline]
    actions = ["replay"]

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_webhookdelivery")

    @admin.action(description="Replay the selected deliveries", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for delivery in queryset:
            try:
                webhook_delivery_replay(delivery=delivery)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{delivery}: {'; '.join(exc.messages)}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} delivery(ies) queued again.", messages.SUCCESS)
