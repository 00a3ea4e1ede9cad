"""Writes shared by every app: soft delete and restore."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.models import SoftDeleteModel


@transaction.atomic
def soft_delete(*, instance: SoftDeleteModel) -> SoftDeleteModel:
    """Hide a row without losing it; the audit trail records deleted_at old → new."""
    if instance.deleted_at is not None:
        return instance
    instance.deleted_at = timezone.now()
    instance.save(update_fields=["deleted_at", "updated_at"])
    return instance


@transaction.atomic
def restore(*, instance: SoftDeleteModel) -> SoftDeleteModel:
    if instance.deleted_at is None:
        return instance
    instance.deleted_at = None
    # A live row may have taken this row's unique name meanwhile: say so rather than 500.
    instance.validate_constraints()
    instance.save(update_fields=["deleted_at", "updated_at"])
    return instance


def restore_many(*, instances: list[SoftDeleteModel]) -> tuple[int, list[str]]:
    """Restore each row on its own; returns (restored, errors) so one clash does not block the rest."""
    restored, errors = 0, []
    for obj in instances:
        try:
            restore(instance=obj)
            restored += 1
        except ValidationError as exc:
            errors.append(f"{obj}: {'; '.join(exc.messages)}")
    return restored, errors
