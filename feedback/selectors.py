from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from feedback.models import Feedback, Promotion

# A live rating: neither it nor its generation's prompt is deleted (a rating is hidden with its prompt).
_LIVE = Q(deleted_at__isnull=True, output__prompt__deleted_at__isnull=True)


def feedback_list(*, user: Any = None, include_deleted: bool = False) -> QuerySet[Feedback]:
    """Ratings; unless include_deleted (the admin), only live ones: neither the rating nor the prompt of
    the rated generation is deleted."""
    qs = Feedback.all_objects.all() if include_deleted else Feedback.objects.filter(_LIVE)
    if user is not None:
        qs = qs.filter(user=user)
    return qs.select_related("user", "output", "output__prompt", "output__model_version")


def promotion_list() -> QuerySet[Promotion]:
    return Promotion.objects.select_related("example", "output", "feedback", "model_version", "promoted_by")


def _visible_to(user: Any) -> dict[str, Q]:
    """Which groups an API caller may see aggregated: every model version (the models list is public),
    public templates and their own private ones, published style guides."""
    return {
        "model_version": Q(),
        "template_version": Q(
            output__prompt__template_version__template__deleted_at__isnull=True,
            output__prompt__template_version__template__is_public=True,
        )
        | Q(output__prompt__template_version__template__created_by=user),
        "style_guide": Q(
            output__prompt__style_guide__deleted_at__isnull=True,
            output__prompt__style_guide__is_published=True,
        ),
    }


def feedback_aggregates(*, by: str, user: Any = None) -> list[dict[str, Any]]:
    """Count, mean and the 1–5 distribution of live ratings per model version, template version or style
    guide. With `user` (the API) only the groups that user may see (_visible_to); without, every group
    (the admin, for curators and ML staff)."""
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
    visible = _visible_to(user)[by] if user is not None else Q()
    rows = (
        Feedback.all_objects.filter(_LIVE, visible, **{f"{pk}__isnull": False})
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


def model_comparison_view(*, comparison: Any, user: Any) -> dict[str, Any]:
    """Side by side: each prompt's two designs with status, adherence and ratings; totals per side."""
    from django.db.models import Prefetch

    from feedback.models import ComparisonItem
    from generation.models import DesignOutput, OutputImage
    from slm.adherence import check, parse_prompt

    outputs = DesignOutput.objects.select_related("model_version").prefetch_related(
        Prefetch("images", queryset=OutputImage.objects.order_by("sequence_order", "file_type")),
        Prefetch("feedback", queryset=Feedback.objects.select_related("user")),
    )
    items = list(
        ComparisonItem.objects.filter(comparison=comparison)
        .prefetch_related(Prefetch("output_a", queryset=outputs), Prefetch("output_b", queryset=outputs))
        .order_by("position")
    )
    sides = {
        "a": {"done": 0, "completed": 0, "adherent": 0, "graded": 0, "ratings": [], "ms": []},
        "b": {"done": 0, "completed": 0, "adherent": 0, "graded": 0, "ratings": [], "ms": []},
    }
    rows = []
    for item in items:
        grammar = parse_prompt(item.prompt_text) is not None
        cells = []
        for key, output in (("a", item.output_a), ("b", item.output_b)):
            s = sides[key]
            svg = next((i for i in output.images.all() if i.file_type == "svg"), None)
            png = next((i for i in output.images.all() if i.file_type == "png"), None)
            adherent = None
            if output.status in ("completed", "failed"):
                s["done"] += 1
            if output.status == "completed":
                s["completed"] += 1
                if output.processing_time_ms is not None:
                    s["ms"].append(output.processing_time_ms)
                if grammar and svg is not None:
                    with svg.file.open("rb") as fh:
                        adherent = check(item.prompt_text, fh.read().decode("utf-8", "replace")).adherent
                    s["graded"] += 1
                    s["adherent"] += int(adherent)
            ratings = [f.rating for f in output.feedback.all() if f.deleted_at is None]
            s["ratings"] += ratings
            mine = next(
                (f.rating for f in output.feedback.all() if f.user_id == user.pk and f.deleted_at is None),
                None,
            )
            cells.append(
                {
                    "output": output,
                    "png": png,
                    "adherent": adherent,
                    "mean": (sum(ratings) / len(ratings)) if ratings else None,
                    "count": len(ratings),
                    "mine": mine,
                }
            )
        rows.append({"item": item, "cells": cells})
    n = len(items)
    totals = {}
    for key, s in sides.items():
        totals[key] = {
            "finished": f"{s['done']}/{n}",
            "valid_rate": s["completed"] / n if n else 0,
            "adherence": (s["adherent"] / s["graded"]) if s["graded"] else None,
            "mean_rating": (sum(s["ratings"]) / len(s["ratings"])) if s["ratings"] else None,
            "ratings": len(s["ratings"]),
            "median_ms": sorted(s["ms"])[len(s["ms"]) // 2] if s["ms"] else None,
        }
    return {"rows": rows, "totals": totals, "finished": all(s["done"] == n for s in sides.values())}


def promotion_candidate_list(*, min_mean_rating: float = 4.0, min_raters: int = 2) -> QuerySet:
    """The curation rule: completed designs not yet promoted, rated at least `min_mean_rating` on average by
    at least `min_raters` people. Shared by the admin's candidate list and feedback.services."""
    from feedback.models import PromotionCandidate

    live = Q(feedback__deleted_at__isnull=True)
    return (
        PromotionCandidate.objects.filter(
            status="completed", promotions__isnull=True, prompt__deleted_at__isnull=True
        )
        .annotate(
            mean=Avg("feedback__rating", filter=live), raters=Count("feedback", filter=live, distinct=True)
        )
        .filter(mean__gte=min_mean_rating, raters__gte=min_raters)
        .select_related("prompt", "model_version")
    )


def promoted_prompt_ids() -> QuerySet:
    """Prompts whose design was promoted into training data: retention never purges them
    (registered with generation.retention by feedback.apps)."""
    return Promotion.objects.filter(output__isnull=False).values("output__prompt_id")


def promotions_in_snapshot(dataset: Any) -> list[dict[str, Any]]:
    """Designs promoted into training data that a snapshot holds, for a model's lineage (registered with
    training.selectors by feedback.apps)."""
    promos = (
        Promotion.objects.filter(example__dataset_items__dataset=dataset)
        .select_related("example", "output__prompt", "feedback__user", "model_version")
        .order_by("created_at")[:200]
    )
    return [
        {"example": p.example, "output": p.output, "feedback": p.feedback, "model_version": p.model_version}
        for p in promos
    ]
