from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from feedback.models import Feedback, Promotion


def feedback_list(*, user: Any = None, include_deleted: bool = False) -> QuerySet[Feedback]:
    qs = Feedback.all_objects.all() if include_deleted else Feedback.objects.all()
    if user is not None:
        qs = qs.filter(user=user)
    return qs.select_related("user", "output", "output__prompt", "output__model_version")


def promotion_list() -> QuerySet[Promotion]:
    return Promotion.objects.select_related("example", "output", "feedback", "model_version", "promoted_by")
