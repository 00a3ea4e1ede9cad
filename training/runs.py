"""Writes for training runs, the model registry, aliases and evaluations (re-exported by services.py)."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.jobs import enqueue_on_commit, worker_id
from training import registry
from training.models import (
    Dataset,
    DatasetItem,
    JobStatus,
    ModelAlias,
    ModelAliasEvent,
    ModelEvaluation,
    SLMModel,
    TrainingMetric,
    TrainingRun,
    TrainingRunEvent,
)
from training.params import TrainingParams

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 2.0
EVAL_PROMPTS = 200


def run_dir(run: TrainingRun) -> Path:
    """Checkpoints live here; share WORK_DIR between worker machines to resume across them."""
    return Path(settings.WORK_DIR) / "runs" / str(run.pk)


def training_run_event(
    *, run: TrainingRun, message: str, level: str = "info", data: dict | None = None
) -> None:
    TrainingRunEvent.objects.create(run=run, message=message[:5000], level=level, data=data or {})


@transaction.atomic
def training_run_create(
    *,
    dataset: Dataset,
    params: dict[str, Any] | TrainingParams | None = None,
    base_model: SLMModel | None = None,
    model_name: str = "atelier-slm",
    promote_to: str = "",
    requested_by: Any = None,
) -> TrainingRun:
    if dataset.status != Dataset.Status.READY:
        raise ValidationError({"dataset": "Only a ready snapshot can be trained on."})
    if not dataset.items.filter(split=DatasetItem.Split.TRAIN).exists():
        raise ValidationError({"dataset": "This snapshot has no training examples."})
    params = params if isinstance(params, TrainingParams) else TrainingParams.from_dict(params)
    if promote_to == "production" and not _may_move_production(requested_by):
        raise ValidationError({"promote_to": "Only ML staff may point production at a model."})
    run = TrainingRun(
        model_name=model_name,
        dataset=dataset,
        base_model=base_model,
        training_type=TrainingRun.TrainingType.FINE_TUNE
        if base_model
        else TrainingRun.TrainingType.FROM_SCRATCH,
        training_params=params.as_dict(),
        promote_to=promote_to,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    run.full_clean()
    run.save()
    training_run_event(run=run, message=f"Queued on {dataset} ({run.get_training_type_display().lower()}).")
    from training.tasks import train_model

    enqueue_on_commit(train_model, str(run.pk))
    return run


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, cancelled_by: Any = None) -> TrainingRun:
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.is_terminal:
        raise ValidationError({"status": f"The run is already {run.status}."})
    who = getattr(cancelled_by, "username", "someone")
    if run.status == JobStatus.PENDING:
        run.status, run.finished_at = JobStatus.CANCELLED, timezone.now()
        run.cancel_requested = True
        run.save(update_fields=["status", "finished_at", "cancel_requested", "updated_at"])
        training_run_event(run=run, message=f"Cancelled by {who} before it started.", level="warning")
    else:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested", "updated_at"])
        training_run_event(
            run=run, message=f"Cancel requested by {who}; stopping after the current step.", level="warning"
        )
    return run


def training_run_claim(*, run_id: Any, claim_ttl_s: float) -> TrainingRun | None:
    """Take a run for this worker, or None if it is finished or a live worker has it."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_terminal:
            return None
        fresh = run.heartbeat_at and (timezone.now() - run.heartbeat_at).total_seconds() < claim_ttl_s
        if run.status == JobStatus.RUNNING and fresh:
            return None
        resuming = run.status == JobStatus.RUNNING or run.attempts > 0
        run.status = JobStatus.RUNNING
        run.attempts += 1
        run.worker_id = worker_id()
        run.heartbeat_at = timezone.now()
        run.started_at = run.started_at or timezone.now()
        run.save(
            update_fields=["status", "attempts", "worker_id", "heartbeat_at", "started_at", "updated_at"]
        )
        msg = f"Attempt {run.attempts} on {run.worker_id}" + (
            " (resuming from the last checkpoint)" if resuming else ""
        )
        training_run_event(run=run, message=msg)
        return run


class _RunCallbacks:
    """Progress into the row (throttled), metrics per report, and the cancel flag every step."""

    def __init__(self, run: TrainingRun) -> None:
        self.run_id = run.pk
        self.last_beat = 0.0

    def on_progress(self, p: Any) -> None:
        now = time.monotonic()
        total = max(int(p.total_steps or 0), p.step, 1)
        TrainingMetric.objects.bulk_create(
            [
                TrainingMetric(run_id=self.run_id, step=p.step, name="loss", value=float(p.loss)),
                TrainingMetric(
                    run_id=self.run_id, step=p.step, name="learning_rate", value=float(p.learning_rate)
                ),
                TrainingMetric(
                    run_id=self.run_id,
                    step=p.step,
                    name="tokens_per_second",
                    value=float(p.tokens_per_second),
                ),
            ],
            ignore_conflicts=True,  # a resumed run reports some steps again
        )
        if now - self.last_beat >= HEARTBEAT_EVERY_S or p.step >= total:
            self.last_beat = now
            TrainingRun.objects.filter(pk=self.run_id).update(
                step=p.step,
                total_steps=total,
                loss=float(p.loss),
                tokens_per_second=float(p.tokens_per_second),
                eta_seconds=float(p.eta_seconds),
                progress=min(p.step / total, 1.0),
                heartbeat_at=timezone.now(),
            )

    def should_stop(self) -> bool:
        return bool(TrainingRun.objects.filter(pk=self.run_id, cancel_requested=True).exists())


def _examples(dataset: Dataset, split: str) -> list[Any]:
    from training.ml.train.config import TrainExample

    return [
        TrainExample(prompt, svg, context or None)
        for prompt, svg, context in dataset.items.filter(split=split)
        .order_by("content_hash")
        .values_list("prompt", "svg_content", "context")
    ]


def training_run_execute(*, run_id: Any) -> TrainingRun:
    """Train (resuming from the newest checkpoint), evaluate, register. Always ends in a terminal state."""
    run = TrainingRun.objects.select_related("dataset", "base_model").get(pk=run_id)
    callbacks = _RunCallbacks(run)
    try:
        from training.ml.train.loop import (
            train,
        )  # inside the try: a broken install must fail the run, not strand it

        params = TrainingParams.from_dict(run.training_params)
        train_set = _examples(run.dataset, DatasetItem.Split.TRAIN)
        val_set = _examples(run.dataset, DatasetItem.Split.VALIDATION) or train_set[:64]
        init_from = None
        if run.base_model_id:
            init_from = registry.local_model_dir(
                storage_path=run.base_model.storage_path, cache_key=str(run.base_model_id)
            )
        training_run_event(
            run=run,
            message=f"Training on {len(train_set)} examples, validating on {len(val_set)}.",
            data={"params": params.as_dict()},
        )
        result = train(
            params.train_config(),
            train_set,
            val_set,
            run_dir(run),
            on_progress=callbacks.on_progress,
            should_stop=callbacks.should_stop,
            init_from=init_from,
        )
        if result.status == "cancelled":
            TrainingRun.objects.filter(pk=run.pk).update(step=result.steps)
            return _finish(
                run,
                JobStatus.CANCELLED,
                f"Cancelled at step {result.steps}; checkpoint kept at "
                f"{result.last_checkpoint.name if result.last_checkpoint else 'none'}.",
                level="warning",
            )
        resumed = f", resumed from step {result.resumed_from_step}" if result.resumed_from_step else ""
        training_run_event(
            run=run,
            message=f"Training finished at step {result.steps}{resumed} "
            f"(loss {result.train_loss:.4f}, {result.tokens_per_second:,.0f} tokens/s). Evaluating.",
            data={"resumed_from_step": result.resumed_from_step, "steps": result.steps},
        )
        metrics = {
            "steps": result.steps,
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "val_perplexity": result.val_perplexity,
            "tokens_per_second": result.tokens_per_second,
            "parameters": result.parameters,
        }
        evaluated, _ = evaluation_metrics(model_dir=result.final_dir, dataset=run.dataset)
        # The training loop's own validation loss stays; the evaluation adds what it measured on top.
        metrics.update({k: v for k, v in evaluated.items() if k not in ("val_loss", "perplexity")})
        model = model_version_register(
            run=run, final_dir=result.final_dir, metrics=metrics, parameter_count=result.parameters
        )
        if run.promote_to:
            model_alias_move(
                name=run.promote_to,
                model_version=model,
                moved_by=run.requested_by,
                note=f"Promoted by training run {run.pk}",
                system=run.requested_by is None,
            )
            training_run_event(run=run, message=f"Alias {run.promote_to} now points at {model}.")
        return _finish(run, JobStatus.COMPLETED, f"Registered {model}.")
    except Exception as exc:
        log.exception("training run %s failed", run.pk)
        return _finish(run, JobStatus.FAILED, f"{type(exc).__name__}: {exc}", level="error")


def evaluation_metrics(*, model_dir: Path, dataset: Dataset) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Loss on the validation split; validity, non-blank and adherence on up to 200 test prompts (adherence
    only counts prompts in the synthetic grammar). Returns (metrics, gallery); used by runs and evaluations."""
    from training.ml.adherence import parse_prompt
    from training.ml.evaluate import evaluate

    test = (
        _examples(dataset, DatasetItem.Split.TEST)[:EVAL_PROMPTS]
        or _examples(dataset, DatasetItem.Split.VALIDATION)[:EVAL_PROMPTS]
    )
    if not test:
        return {}, []
    val = _examples(dataset, DatasetItem.Split.VALIDATION)[:256] or test
    result = evaluate(model_dir, val, [e.prompt for e in test])
    metrics: dict[str, Any] = {
        "eval_prompts": len(test),
        "val_loss": result.val_loss,
        "perplexity": result.perplexity,
        "validity_rate": result.validity_rate,
        "nonblank_rate": result.nonblank_rate,
        "valid_nonblank_rate": result.valid_nonblank_rate,
    }
    if any(parse_prompt(e.prompt) for e in test):
        metrics["adherence_rate"] = result.adherence_rate
        metrics.update({f"adherence_{k}": v for k, v in result.aspect_rates.items()})
    gallery = [
        {"prompt": g.prompt, "svg": g.svg, "valid": g.valid, "adherent": g.adherent} for g in result.gallery
    ]
    return {k: v for k, v in metrics.items() if v is not None}, gallery


def _finish(run: TrainingRun, status: str, message: str, level: str = "info") -> TrainingRun:
    run.refresh_from_db()
    run.status = status
    run.finished_at = timezone.now()
    if status == JobStatus.FAILED:
        run.error_message = message[:5000]
    if status == JobStatus.COMPLETED:
        run.progress = 1.0
    run.save()
    training_run_event(run=run, message=message, level=level)
    return run


@transaction.atomic
def model_version_register(
    *, run: TrainingRun, final_dir: Path, metrics: dict[str, Any], parameter_count: int
) -> SLMModel:
    """A new version in the registry, its artifacts copied to storage (manifest last)."""
    import json

    SLMModel.objects.select_for_update().filter(model_name=run.model_name).exists()
    version = (SLMModel.objects.filter(model_name=run.model_name).aggregate(v=Max("version"))["v"] or 0) + 1
    manifest = (
        json.loads((Path(final_dir) / "manifest.json").read_text())
        if (Path(final_dir) / "manifest.json").exists()
        else {}
    )
    model = SLMModel(
        model_name=run.model_name,
        version=version,
        architecture=run.training_params.get("arch", "gpt2"),
        model_config=manifest.get("config", {}).get("model", {}),
        trained_at=timezone.now(),
        last_fine_tuned=timezone.now() if run.base_model_id else None,
        base_model=run.base_model,
        training_strategy=SLMModel.Strategy.FINE_TUNE
        if run.base_model_id
        else SLMModel.Strategy.FROM_SCRATCH,
        dataset=run.dataset,
        metrics={k: v for k, v in metrics.items() if v is not None},
        parameter_count=parameter_count,
    )
    model.full_clean(exclude=["storage_path"])
    model.save()
    model.storage_path = registry.artifacts_upload(
        local_dir=Path(final_dir), prefix=f"models/{model.model_name}/v{version}-{str(model.pk)[:8]}"
    )
    model.save(update_fields=["storage_path", "updated_at"])
    run.result_model = model
    run.save(update_fields=["result_model", "updated_at"])
    return model


def _may_move_production(user: Any) -> bool:
    return bool(user and getattr(user, "pk", None) and user.has_perm("training.move_production_alias"))


@transaction.atomic
def model_alias_move(
    *, name: str, model_version: SLMModel, moved_by: Any = None, note: str = "", system: bool = False
) -> ModelAlias:
    """Point an alias at a version and keep the move in its history. Only ML staff move production."""
    if name == "production" and not system and not _may_move_production(moved_by):
        raise PermissionDenied("Only ML staff may move the production alias.")
    who = moved_by if getattr(moved_by, "pk", None) else None
    alias = ModelAlias.objects.select_for_update().filter(name=name).first()
    previous = alias.model_version if alias else None
    if alias is None:
        alias = ModelAlias(name=name, model_version=model_version, updated_by=who)
        alias.full_clean()
        alias.save()
    elif previous == model_version:
        return alias
    else:
        alias.model_version, alias.updated_by = model_version, who
        alias.save(update_fields=["model_version", "updated_by", "updated_at"])
    ModelAliasEvent.objects.create(
        alias=alias, from_version=previous, to_version=model_version, moved_by=who, note=note[:500]
    )
    return alias


@transaction.atomic
def model_alias_rollback(*, alias: ModelAlias, moved_by: Any = None) -> ModelAlias:
    """Point the alias back at the version it had before its last move."""
    last = alias.events.order_by("-created_at").first()
    if last is None or last.from_version is None:
        raise ValidationError({"alias": f"{alias.name} has no earlier version to roll back to."})
    return model_alias_move(
        name=alias.name,
        model_version=last.from_version,
        moved_by=moved_by,
        note=f"Rollback from {last.to_version}",
    )


@transaction.atomic
def model_evaluation_create(
    *, model_version: SLMModel, dataset: Dataset | None = None, requested_by: Any = None
) -> ModelEvaluation:
    dataset = dataset or model_version.dataset
    if dataset is None:
        raise ValidationError({"dataset": "Choose a snapshot to evaluate on."})
    evaluation = ModelEvaluation(
        model_version=model_version,
        dataset=dataset,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    evaluation.full_clean()
    evaluation.save()
    from training.tasks import evaluate_model

    enqueue_on_commit(evaluate_model, str(evaluation.pk))
    return evaluation


def model_evaluation_execute(*, evaluation_id: Any) -> ModelEvaluation:
    evaluation = ModelEvaluation.objects.select_related("model_version", "dataset").get(pk=evaluation_id)
    evaluation.status, evaluation.started_at = JobStatus.RUNNING, timezone.now()
    evaluation.heartbeat_at = timezone.now()
    evaluation.save(update_fields=["status", "started_at", "heartbeat_at", "updated_at"])
    try:
        model_dir = registry.local_model_dir(
            storage_path=evaluation.model_version.storage_path, cache_key=str(evaluation.model_version_id)
        )
        evaluation.metrics, evaluation.gallery = evaluation_metrics(
            model_dir=model_dir, dataset=evaluation.dataset
        )
        evaluation.status = JobStatus.COMPLETED
    except Exception as exc:
        log.exception("evaluation %s failed", evaluation.pk)
        evaluation.status, evaluation.error_message = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"[:5000]
    evaluation.finished_at = timezone.now()
    evaluation.save()
    return evaluation


def run_workdir_cleanup(*, run: TrainingRun) -> None:
    shutil.rmtree(run_dir(run), ignore_errors=True)
