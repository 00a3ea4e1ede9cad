"""Shared base models: UUID keys, timestamps, soft delete; and the user."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from core.context import current_request_meta


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def get_additional_data(self) -> dict[str, Any] | None:
        # django-auditlog stores this on each log entry: the request's user agent.
        meta = current_request_meta()
        return {"user_agent": meta.user_agent} if meta and meta.user_agent else None


def clean_new_row(instance: models.Model, *, trusted: tuple[str, ...] = ()) -> None:
    """full_clean for a fresh row on a hot path (an API request, a worker's result), without the
    checks that each cost a query: the `trusted` foreign keys (rows the caller has just read or
    written), unique checks (a new UUID key; the database enforces unique slots), and CHECK
    constraints (the database enforces them too; Django validates each one with a SELECT). Field
    validation (types, lengths, choices, blank) still runs, and the caller validates ranges itself."""
    instance.full_clean(exclude=list(trusted), validate_unique=False, validate_constraints=False)


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=True)

    def dead(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=False)


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):  # type: ignore[misc]
    """The default manager: soft-deleted rows are hidden."""

    def get_queryset(self) -> SoftDeleteQuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class AllManager(models.Manager.from_queryset(SoftDeleteQuerySet)):  # type: ignore[misc]
    pass


class SoftDeleteModel(BaseModel):
    """User-generated content: deleting sets deleted_at (see core.services.soft_delete)."""

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    objects = AliveManager()
    all_objects = AllManager()

    class Meta(BaseModel.Meta):
        abstract = True
        # Related-object access (a design's prompt, say) must still reach a soft-deleted row.
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", unique=True)

    class Meta(AbstractUser.Meta):
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [
            models.Index(fields=["is_staff"]),
            models.Index(fields=["is_superuser"]),
            models.Index(fields=["is_active"]),
        ]
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username


class OutboxEvent(BaseModel):
    """An event, written in the same transaction as the write it announces (core.events.event_emit), so
    that a committed event survives the process that wrote it. Delivery (integrations) fans each row out
    to its subscribers once and stamps `dispatched_at`."""

    type = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta(BaseModel.Meta):
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="outbox_undelivered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"
