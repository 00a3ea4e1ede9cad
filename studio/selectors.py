"""Reads of the dashboard and the playground. Each read is one query (two with its prefetch), whatever the
data holds, so the home page costs the same on an empty database and a busy one (tests/test_studio.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Avg, CharField, Count, Prefetch, Q, Value
from django.db.models.functions import TruncDate

from core.jobs.models import ACTIVE, JobStatus
from feedback.models import Feedback, Promotion
from generation.models import DesignOutput, OutputImage
from generation.selectors import design_output_list
from training.models import (
    Dataset,
    ImportBatch,
    ModelAlias,
    ModelEvaluation,
    SLMModel,
    TrainingExample,
    TrainingRun,
)
from training.selectors import dataset_list, import_batch_list, model_alias_list, training_run_list

ALIASES_SHOWN = 12
JOBS_SHOWN = 8
SNAPSHOTS_SHOWN = 5
DESIGNS_SHOWN = 12


def alias_list() -> list[ModelAlias]:
    """Every alias (production first) with the version it points at; `updated_at` is when it last moved."""
    aliases = list(model_alias_list().order_by("name")[:ALIASES_SHOWN])
    return sorted(aliases, key=lambda a: (a.name != "production", a.name))


def active_training_runs() -> list[TrainingRun]:
    return list(training_run_list().filter(status__in=ACTIVE).order_by("-created_at")[:JOBS_SHOWN])


def active_imports() -> list[ImportBatch]:
    return list(import_batch_list().filter(status__in=ACTIVE).order_by("-created_at")[:JOBS_SHOWN])


def job_progress(*, run_ids: list[str], import_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """What the dashboard's progress bars poll: status and progress of the jobs it shows (two queries)."""
    runs = TrainingRun.objects.filter(pk__in=run_ids[:JOBS_SHOWN]).values(
        "id", "status", "progress", "step", "total_steps", "eta_seconds"
    )
    imports = ImportBatch.objects.filter(pk__in=import_ids[:JOBS_SHOWN]).values(
        "id", "status", "progress", "rows_read"
    )
    return {
        "runs": [{**r, "id": str(r["id"])} for r in runs] if run_ids else [],
        "imports": [{**i, "id": str(i["id"])} for i in imports] if import_ids else [],
    }


def failure_counts(*, since: date) -> dict[str, int]:
    """Failed jobs finished on or after `since`, per kind, and snapshots whose export failed: one query
    (a UNION of one count per kind)."""
    failed = Q(status=JobStatus.FAILED, finished_at__date__gte=since)
    parts = [
        ("training_runs", TrainingRun.objects.filter(failed)),
        ("imports", ImportBatch.objects.filter(failed)),
        ("evaluations", ModelEvaluation.objects.filter(failed)),
        ("generations", DesignOutput.objects.filter(failed)),
        ("snapshots", Dataset.objects.filter(status=Dataset.Status.ERROR, updated_at__date__gte=since)),
    ]
    counts = [
        qs.order_by()
        .annotate(kind=Value(kind, CharField()))
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
        for kind, qs in parts
    ]
    found = dict(counts[0].union(*counts[1:], all=True))
    return {kind: found.get(kind, 0) for kind, _ in parts}


def example_counts() -> list[dict[str, Any]]:
    """Training examples by source and status (one query): [{source_type, status, n}]."""
    return list(
        TrainingExample.objects.order_by()
        .values("source_type", "status")
        .annotate(n=Count("id"))
        .order_by("source_type", "status")
    )


def newest_snapshots() -> list[Dataset]:
    return list(dataset_list().order_by("-created_at")[:SNAPSHOTS_SHOWN])


def generations_per_day(*, since: date) -> list[dict[str, Any]]:
    """Generation requests per day since `since` with how many failed (one query): [{day, total, failed}]."""
    return list(
        DesignOutput.objects.filter(created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status=JobStatus.FAILED)))
        .order_by("day")
    )


def mean_rating_per_model(*, since: date) -> list[dict[str, Any]]:
    """Live ratings given since `since`, per model version (one query): [{id, label, mean, n}]."""
    rows = (
        Feedback.objects.filter(created_at__date__gte=since, output__model_version__isnull=False)
        .order_by()
        .values(
            "output__model_version", "output__model_version__model_name", "output__model_version__version"
        )
        .annotate(mean=Avg("rating"), n=Count("id"))
        .order_by("output__model_version__model_name", "output__model_version__version")
    )
    return [
        {
            "id": str(r["output__model_version"]),
            "label": f"{r['output__model_version__model_name']} v{r['output__model_version__version']}",
            "mean": float(r["mean"]),
            "n": r["n"],
        }
        for r in rows
    ]


def latest_designs() -> list[DesignOutput]:
    """The newest completed requests with their designs (two queries)."""
    return list(
        design_output_list().filter(status=JobStatus.COMPLETED).order_by("-created_at")[:DESIGNS_SHOWN]
    )


# --- the playground --------------------------------------------------------------------------------------


def playground_outputs(*, user: Any, ids: list[str]) -> list[DesignOutput]:
    """The user's own requests among `ids`, in that order, with designs, ratings and promotions."""
    found = {
        str(o.pk): o
        for o in DesignOutput.objects.filter(pk__in=ids, prompt__user=user, prompt__deleted_at__isnull=True)
        .select_related(
            "prompt", "prompt__style_guide", "prompt__template_version__template", "model_version"
        )
        .prefetch_related(
            Prefetch("images", queryset=OutputImage.objects.order_by("sequence_order", "file_type")),
            Prefetch("feedback", queryset=Feedback.objects.filter(user=user)),
            Prefetch(
                "promotions",
                queryset=Promotion.objects.only("id", "output_id", "sequence_order", "example_id"),
            ),
        )
    }
    return [found[i] for i in ids if i in found]


def playground_statuses(*, user: Any, ids: list[str]) -> dict[str, str]:
    rows = DesignOutput.objects.filter(pk__in=ids, prompt__user=user).values_list("id", "status")
    return {str(pk): status for pk, status in rows}


def playground_output_get(*, user: Any, output_id: Any) -> DesignOutput | None:
    return (
        DesignOutput.objects.filter(pk=output_id, prompt__user=user, prompt__deleted_at__isnull=True)
        .select_related("prompt", "model_version")
        .first()
    )


def model_choices() -> list[tuple[str, str]]:
    """What the playground offers: every alias, then every version (newest first)."""
    aliases = [(a.name, f"{a.name} → {a.model_version}") for a in model_alias_list().order_by("name")]
    versions = [
        (str(m.pk), str(m))
        for m in SLMModel.objects.order_by("model_name", "-version").only("id", "model_name", "version")
    ]
    return aliases + versions
