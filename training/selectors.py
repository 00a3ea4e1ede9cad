"""Reads of training data, snapshots, models and runs, shared by the admin and the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from slm.train.config import TrainExample
from training.models import (
    BaseModelImport,
    Dataset,
    DatasetItem,
    ImportBatch,
    ModelAlias,
    ModelAliasEvent,
    ModelEvaluation,
    SLMModel,
    TrainingExample,
    TrainingMetric,
    TrainingRun,
    TrainingRunEvent,
)


def training_example_list(*, include_deleted: bool = False) -> QuerySet[TrainingExample]:
    qs = TrainingExample.all_objects.all() if include_deleted else TrainingExample.objects.all()
    return qs.select_related("style_guide", "design_pattern", "import_batch", "reviewed_by", "review_policy")


def example_status_counts(*, pks: list[Any]) -> dict[str, int]:
    """How many of these examples are in each status (after a review action: what it decided)."""
    rows = TrainingExample.objects.filter(pk__in=pks).values("status").annotate(n=Count("pk"))
    return {r["status"]: r["n"] for r in rows}


def import_batch_list() -> QuerySet[ImportBatch]:
    return ImportBatch.objects.select_related("created_by", "style_guide")


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.select_related("created_by")


def dataset_item_list() -> QuerySet[DatasetItem]:
    return DatasetItem.objects.select_related("dataset", "example")


def model_version_list() -> QuerySet[SLMModel]:
    # Galleries (SVG text) are read by a version's own page only, not by lists.
    return (
        SLMModel.objects.select_related("base_model", "dataset")
        .defer("gallery", "dataset__profile")
        .prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.only("id", "name", "model_version_id"))
        )
    )


def base_model_import_list() -> QuerySet[BaseModelImport]:
    return BaseModelImport.objects.select_related("result_model", "created_by")


def model_alias_list() -> QuerySet[ModelAlias]:
    return ModelAlias.objects.select_related("model_version", "updated_by", "deployment")


def model_alias_event_list() -> QuerySet[ModelAliasEvent]:
    return ModelAliasEvent.objects.select_related(
        "alias__model_version", "from_version", "to_version", "moved_by"
    )


def training_run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("dataset", "base_model", "result_model", "requested_by").defer(
        "result_model__gallery", "dataset__profile", "base_model__gallery"
    )


def training_run_event_list() -> QuerySet[TrainingRunEvent]:
    return TrainingRunEvent.objects.select_related("run", "run__dataset")


def training_metric_list() -> QuerySet[TrainingMetric]:
    return TrainingMetric.objects.select_related("run", "run__dataset")


def model_evaluation_list() -> QuerySet[ModelEvaluation]:
    return ModelEvaluation.objects.select_related("model_version", "dataset", "requested_by").defer(
        "model_version__gallery", "dataset__profile"
    )


def dataset_examples(*, dataset: Dataset, split: str) -> list[TrainExample]:
    """One split of a snapshot as the training code reads it, in a stable order."""
    return [
        TrainExample(prompt, svg, context or None)
        for prompt, svg, context in dataset.items.filter(split=split)
        .order_by("content_hash")
        .values_list("prompt", "svg_content", "context")
    ]


def dataset_export_items(*, dataset: Dataset) -> Iterator[DatasetItem]:
    """A snapshot's items in export order (split, then content hash), streamed."""
    return dataset.items.order_by("split", "content_hash").iterator(chunk_size=2000)


def dataset_split_counts(*, dataset: Dataset) -> dict[str, int]:
    rows = dataset.items.values("split").annotate(n=Count("id"))
    return {r["split"]: r["n"] for r in rows}


def model_version_resolve(*, ref: str) -> SLMModel:
    """A version's UUID, `model_name:version`, or an alias name (`production`) → that version, tried in
    that order. Alias names can be neither a UUID nor contain ':' (training.models.registry.validate_alias_name),
    so no alias can stand in for another version's id or name.

    Raises SLMModel.DoesNotExist with a message naming the reference.
    """
    import uuid

    ref = (ref or "").strip()
    try:
        version_id = uuid.UUID(ref)
    except ValueError:
        version_id = None
    if version_id is not None:
        found = SLMModel.objects.filter(pk=version_id).first()
    elif ":" in ref:
        name, _, version = ref.rpartition(":")
        found = (
            SLMModel.objects.filter(model_name=name, version=int(version)).first()
            if version.isdigit() and len(version) < 10
            else None
        )
    else:
        # Alias names are unique: no ordering needed (first() would add one on every API call).
        aliases = list(ModelAlias.objects.select_related("model_version").filter(name=ref).order_by()[:1])
        found = aliases[0].model_version if aliases else None
    if found is None:
        raise SLMModel.DoesNotExist(f"No model version or alias named {ref!r}.")
    return found


def training_run_progress(*, run: TrainingRun, max_points: int = 400) -> dict:
    """What the live run page polls: the row's progress, a thinned loss curve and the newest events."""
    points = list(run.metrics.filter(name="loss").order_by("step").values_list("step", "value"))
    if len(points) > max_points:
        stride = len(points) / max_points
        points = [points[int(i * stride)] for i in range(max_points)] + [points[-1]]
    events = list(run.events.order_by("-created_at", "-id")[:50].values("created_at", "level", "message"))
    return {
        "status": run.status,
        "progress": run.progress,
        "step": run.step,
        "total_steps": run.total_steps,
        "loss": run.loss,
        "tokens_per_second": run.tokens_per_second,
        "eta_seconds": run.eta_seconds,
        "error": run.error_message,
        "result_model": str(run.result_model) if run.result_model_id else None,
        "loss_curve": points,
        "events": [
            {"at": e["created_at"].strftime("%H:%M:%S"), "level": e["level"], "message": e["message"]}
            for e in reversed(events)
        ],
    }


# Promoted designs in a snapshot's lineage come from an app above this one (feedback), which registers
# the function that lists them (feedback.apps); training never imports it.
PromotionsOf = Callable[[Dataset], list[dict[str, Any]]]
_promotions_of: list[PromotionsOf] = []


def register_lineage_promotions(source: PromotionsOf) -> None:
    if source not in _promotions_of:
        _promotions_of.append(source)


def model_lineage(*, model: SLMModel) -> dict:
    """From a model version back: its run, snapshot, the examples' sources, promoted feedback, alias history."""
    chain = []
    cursor: SLMModel | None = model
    while cursor is not None and len(chain) < 20:  # base-model chain, guarded against cycles
        chain.append(cursor)
        cursor = cursor.base_model
    run = TrainingRun.objects.filter(result_model=model).select_related("dataset", "requested_by").first()
    dataset = model.dataset
    sources: list[dict] = []
    promoted: list[dict] = []
    if dataset is not None:
        items = DatasetItem.objects.filter(dataset=dataset)
        sources = list(
            items.values(
                "example__source_type",
                "example__import_batch__source_name",
                "example__design_pattern__pattern_name",
            )
            .annotate(n=Count("id"))
            .order_by("-n")[:50]
        )
        promoted = [row for source in _promotions_of for row in source(dataset)]
    aliases = list(
        ModelAliasEvent.objects.filter(Q(from_version=model) | Q(to_version=model))
        .select_related("alias", "from_version", "to_version", "moved_by")
        .order_by("created_at")
    )
    return {
        "chain": chain,
        "run": run,
        "dataset": dataset,
        "sources": sources,
        "promoted": promoted,
        "alias_history": aliases,
    }
