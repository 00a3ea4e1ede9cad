from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from feedback.models import Feedback, Promotion

_LIVE = Q(deleted_at__isnull=True)


def feedback_list(*, user: Any = None, include_deleted: bool = False) -> QuerySet[Feedback]:
    qs = Feedback.all_objects.all() if include_deleted else Feedback.objects.all()
    if user is not None:
        qs = qs.filter(user=user)
    return qs.select_related("user", "output", "output__prompt", "output__model_version")


def promotion_list() -> QuerySet[Promotion]:
    return Promotion.objects.select_related("example", "output", "feedback", "model_version", "promoted_by")


def feedback_aggregates(*, by: str) -> list[dict[str, Any]]:
    """Count, mean and the 1–5 distribution of ratings per model version, template version or style guide."""
    keys = {
        "model_version": (
            "output__model_version",
            "output__model_version__model_name",
            "output__model_version__version",
        ),
        "template_version": (
            "output__prompt__template_version",
            "output__prompt__template_version__template__name",
            "output__prompt__template_version__version",
        ),
        "style_guide": ("output__prompt__style_guide", "output__prompt__style_guide__guide_name", None),
    }
    if by not in keys:
        raise ValueError(f"by must be one of {', '.join(keys)}")
    pk, name, version = keys[by]
    fields = [pk, name] + ([version] if version else [])
    rows = (
        Feedback.objects.filter(_LIVE, **{f"{pk}__isnull": False})
        .values(*fields)
        .annotate(
            count=Count("id"),
            mean=Avg("rating"),
            **{f"r{i}": Count("id", filter=Q(rating=i)) for i in range(1, 6)},
        )
        .order_by(name)
    )
    out = []
    for r in rows:
        label = f"{r[name]} v{r[version]}" if version else r[name]
        out.append(
            {
                "id": str(r[pk]),
                "label": label,
                "count": r["count"],
                "mean": round(r["mean"], 3),
                "distribution": {str(i): r[f"r{i}"] for i in range(1, 6)},
            }
        )
    return out
