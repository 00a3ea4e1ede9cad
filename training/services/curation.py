"""Curation of training examples: review status, row by row so the audit trail keeps each change."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from training.models import TrainingExample


@transaction.atomic
def training_example_set_status(*, examples: QuerySet[TrainingExample], status: str, reviewed_by: Any) -> int:
    if status not in TrainingExample.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    now = timezone.now()
    changed = 0
    # Row by row (not .update()) so each change lands in the audit trail with its old value.
    # Lock our own rows only: the caller's queryset may carry outer joins PostgreSQL cannot lock.
    for example in TrainingExample.objects.filter(pk__in=examples.values("pk")).select_for_update():
        if example.status == status:
            continue
        example.status = status
        example.reviewed_by = reviewed_by if getattr(reviewed_by, "pk", None) else None
        example.reviewed_at = now
        example.save(update_fields=["status", "reviewed_by", "reviewed_at", "updated_at"])
        changed += 1
    return changed
