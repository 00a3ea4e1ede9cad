"""The dashboard's context: the selectors' reads, each number and row with the filtered changelist behind it,
and each panel only for those who may open that changelist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from generation.admin_designs import design_image_url, design_slots
from studio import charts, selectors
from training.models import TrainingExample

FAILURE_DAYS = 7
TRAFFIC_DAYS = 14
RATING_DAYS = 30
HEADLINE_METRICS = (
    ("adherence_rate", "adherence", "{:.0%}"),
    ("valid_nonblank_rate", "valid", "{:.0%}"),
    ("val_loss", "val loss", "{:.3f}"),
)
FAILURE_KINDS = (
    ("training_runs", "Training runs", "training_trainingrun", "finished_at"),
    ("imports", "Imports", "training_importbatch", "finished_at"),
    ("evaluations", "Evaluations", "training_modelevaluation", "finished_at"),
    ("generations", "Generations", "generation_designoutput", "finished_at"),
    ("snapshots", "Snapshot exports", "training_dataset", "updated_at"),
)


def changelist(name: str, **filters: Any) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def change(name: str, pk: Any) -> str:
    return reverse(f"admin:{name}_change", args=[pk])


def dashboard_context(*, user: Any) -> dict[str, Any]:
    can = user.has_perm
    today = timezone.localdate()
    context: dict[str, Any] = {"playground": can("generation.add_prompt")}
    if can("training.view_modelalias") and can("training.view_slmmodel"):
        context["models"] = _models(can)
    if can("training.view_trainingrun") or can("training.view_importbatch"):
        context["jobs"] = _jobs(can, since=today - timedelta(days=FAILURE_DAYS - 1))
    if can("training.view_trainingexample") or can("training.view_dataset"):
        context["data"] = _data(can)
    if can("training.add_review") or can("training.view_review"):
        context["reviews"] = _reviews()
    if can("generation.view_designoutput"):
        context["traffic"] = _traffic(can, today=today)
        if can("generation.view_outputimage"):
            context["designs"] = _designs()
    return context


def _reviews() -> list[dict[str, Any]]:
    """Progress per review queue: reviews given / reviews needed, each with its “Review next” link."""
    from training.selectors_reviews import review_queue_progress

    queue = reverse("admin:training_review_queue")
    return [
        {
            **row,
            "url": f"{queue}?{urlencode({'queue': row['policy_id']})}" if row["policy_id"] else queue,
            "share": row["given"] / row["needed"] if row["needed"] else 1.0,
        }
        for row in review_queue_progress()
    ]


def _models(can: Any) -> dict[str, Any]:
    rows = []
    for alias in selectors.alias_list():
        version = alias.model_version
        metrics = [
            (label, fmt.format(version.metrics[key]))
            for key, label, fmt in HEADLINE_METRICS
            if isinstance((version.metrics or {}).get(key), int | float)
        ]
        rows.append(
            {
                "name": alias.name,
                "url": change("training_modelalias", alias.pk),
                "version": str(version),
                "version_url": change("training_slmmodel", version.pk),
                "since": alias.updated_at,
                "metrics": metrics,
                "designs_url": changelist("generation_designoutput", model_version__id__exact=version.pk),
            }
        )
    return {
        "aliases": rows,
        "has_production": any(r["name"] == "production" for r in rows),
        "versions_url": changelist("training_slmmodel"),
        "snapshots_url": changelist("training_dataset", status__exact="ready"),
    }


def _jobs(can: Any, *, since: Any) -> dict[str, Any]:
    runs = [
        {
            "id": str(r.pk),
            "label": str(r),
            "url": change("training_trainingrun", r.pk),
            "status": r.status,
            "progress": r.progress,
            "detail": f"step {r.step} / {r.total_steps}",
        }
        for r in (selectors.active_training_runs() if can("training.view_trainingrun") else [])
    ]
    imports = [
        {
            "id": str(b.pk),
            "label": b.source_name,
            "url": change("training_importbatch", b.pk),
            "status": b.status,
            "progress": b.progress,
            "detail": f"{b.rows_read} rows read" + (" (dry run)" if b.dry_run else ""),
        }
        for b in (selectors.active_imports() if can("training.view_importbatch") else [])
    ]
    counts = selectors.failure_counts(since=since)
    failures = [
        {
            "label": label,
            "count": counts[kind],
            "url": changelist(
                name,
                **{
                    "status__exact": "error" if kind == "snapshots" else "failed",
                    f"{field}__date__gte": since.isoformat(),
                },
            ),
        }
        for kind, label, name, field in FAILURE_KINDS
        if can("{}.view_{}".format(*name.split("_", 1)))
    ]
    return {
        "runs": runs,
        "imports": imports,
        "failures": failures,
        "failure_days": FAILURE_DAYS,
        "progress_url": reverse("admin:dashboard_jobs"),
        "runs_url": changelist("training_trainingrun", status__exact="running"),
        "imports_url": changelist("training_importbatch", status__exact="running"),
        "can_runs": can("training.view_trainingrun"),
        "can_imports": can("training.view_importbatch"),
    }


def _data(can: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if can("training.view_trainingexample"):
        statuses = list(TrainingExample.Status)
        sources = dict(TrainingExample.SourceType.choices)
        table: dict[str, dict[str, int]] = {}
        for row in selectors.example_counts():
            table.setdefault(row["source_type"], {})[row["status"]] = row["n"]
        data["statuses"] = [
            {
                "label": s.label,
                "total": sum(cells.get(s.value, 0) for cells in table.values()),
                "url": changelist("training_trainingexample", status__exact=s.value),
            }
            for s in statuses
        ]
        data["sources"] = [
            {
                "label": sources.get(source, source),
                "url": changelist("training_trainingexample", source_type__exact=source),
                "cells": [
                    {
                        "n": cells.get(s.value, 0),
                        "url": changelist(
                            "training_trainingexample", source_type__exact=source, status__exact=s.value
                        ),
                    }
                    for s in statuses
                ],
            }
            for source, cells in sorted(table.items())
        ]
        data["examples_url"] = changelist("training_trainingexample")
        data["import_url"] = reverse("admin:training_importbatch_upload")
    if can("training.view_dataset"):
        data["snapshots"] = [
            {
                "label": str(d),
                "url": change("training_dataset", d.pk),
                "status": d.status,
                "records": d.record_count,
                "created_at": d.created_at,
            }
            for d in selectors.newest_snapshots()
        ]
        data["snapshots_url"] = changelist("training_dataset")
    return data


def _traffic(can: Any, *, today: Any) -> dict[str, Any]:
    since = today - timedelta(days=TRAFFIC_DAYS - 1)
    by_day = {row["day"]: row for row in selectors.generations_per_day(since=since)}
    points = []
    total = failed = 0
    for i in range(TRAFFIC_DAYS):
        day = since + timedelta(days=i)
        row = by_day.get(day, {"total": 0, "failed": 0})
        total += row["total"]
        failed += row["failed"]
        points.append(
            (
                day.strftime("%d"),
                row["total"],
                row["failed"],
                f"{day:%a %d %b}: {row['total']} request(s), {row['failed']} failed",
                changelist("generation_designoutput", created_at__date=day.isoformat()),
            )
        )
    traffic: dict[str, Any] = {
        "days": TRAFFIC_DAYS,
        "bars": charts.column_chart(points),
        "total": total,
        "failed": failed,
        "failure_rate": f"{failed / total:.1%}" if total else "",
        "total_url": changelist("generation_designoutput", created_at__date__gte=since.isoformat()),
        "failed_url": changelist(
            "generation_designoutput", status__exact="failed", created_at__date__gte=since.isoformat()
        ),
    }
    if can("feedback.view_feedback"):
        rating_since = today - timedelta(days=RATING_DAYS - 1)
        rows = selectors.mean_rating_per_model(since=rating_since)
        traffic["rating_days"] = RATING_DAYS
        traffic["ratings"] = charts.row_chart(
            [
                (
                    f"{r['label']}: {r['mean']:.2f}",
                    r["mean"],
                    f"{r['label']}: mean {r['mean']:.2f} from {r['n']} rating(s)",
                    changelist(
                        "feedback_feedback",
                        output__model_version__id__exact=r["id"],
                        created_at__date__gte=rating_since.isoformat(),
                    ),
                )
                for r in rows
            ],
            scale=5.0,
            width=420,
        )
        traffic["ratings_height"] = max(len(rows), 1) * 22
    return traffic


def _designs() -> list[dict[str, Any]]:
    cells = []
    for output in selectors.latest_designs():
        slots = design_slots(output)
        if not slots:
            continue
        cells.append(
            {
                "url": change("generation_designoutput", output.pk),
                "image": design_image_url(slots[0]["shown"]),
                "prompt": output.prompt.text_content,
                "model": str(output.model_version) if output.model_version_id else "",
            }
        )
    return cells
