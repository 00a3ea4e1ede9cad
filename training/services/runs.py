"""Training runs: queue one, cancel it, and run it: train (training.services.run_training), evaluate,
register and promote (training.services.run_outcome)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core import events
from core.jobs.actor import job_run
from core.jobs.kinds import job_enqueue
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from slm.base_errors import BaseModelError
from slm.base_lora import lora_targets_check
from slm.train.launch import DistributedFailure
from training.models import Dataset, DatasetItem, SLMModel, TrainingRun
from training.params import TrainingParams
from training.services.profiles import dataset_recipe
from training.services.registry import model_alias_check
from training.services.run_outcome import training_run_evaluate, training_run_promote, training_run_register
from training.services.run_state import TrainingRefused, training_run_event
from training.services.run_training import MIN_TRAIN_EXAMPLES, training_run_train, training_run_trained

log = logging.getLogger(__name__)


@transaction.atomic
def training_run_create(
    *,
    dataset: Dataset,
    params: dict[str, Any] | TrainingParams | None = None,
    base_model: SLMModel | None = None,
    model_name: str = "atelier-slm",
    promote_to: str = "",
    promote_override_reason: str = "",
    requested_by: Any = None,
    enqueue: bool = True,
    system: bool = False,
) -> TrainingRun:
    """Queue a run (with enqueue, a worker takes it after commit; else `training_run_run` runs it here).
    Parameters left out come from the recipe derived from the snapshot (slm.recipe). `promote_to`
    production moves only to a version whose verdict is not "not learned", unless
    `promote_override_reason` says why it should anyway. `system` (a command run from the shell, with no
    user): the alias moves without a user's permission, as the demo pipeline's would."""
    if dataset.status != Dataset.Status.READY:
        raise ValidationError({"dataset": "Only a ready snapshot can be trained on."})
    n_train = dataset.items.filter(split=DatasetItem.Split.TRAIN).count()
    if n_train < MIN_TRAIN_EXAMPLES:
        raise ValidationError(
            {
                "dataset": f"This snapshot has {n_train} training example(s); a model needs at least "
                f"{MIN_TRAIN_EXAMPLES}. Freeze a larger selection."
            }
        )
    if not isinstance(params, TrainingParams):
        # What the caller left out comes from the recipe derived from this snapshot.
        given = dict(params or {})
        if "batch_size" in given and "batch_tokens" not in given:
            given["batch_tokens"] = (
                0  # a batch size asked for is a count of sequences, not the recipe's budget
            )
        recipe = dataset_recipe(dataset=dataset, budget_seconds=given.get("budget_seconds"))
        params = TrainingParams.from_dict({**recipe.values, **given})
    _check_finetune(params=params, base_model=base_model)
    if promote_to and not (system and requested_by is None):  # now, not at the end: may this user?
        try:
            model_alias_check(name=promote_to, user=requested_by)
        except PermissionDenied as exc:
            raise ValidationError({"promote_to": str(exc)}) from None
        except ValidationError as exc:
            raise ValidationError({"promote_to": exc.messages}) from None
    run = TrainingRun(
        model_name=model_name,
        dataset=dataset,
        base_model=base_model,
        training_type=TrainingRun.TrainingType.FINE_TUNE
        if base_model
        else TrainingRun.TrainingType.FROM_SCRATCH,
        training_params=params.as_dict(),
        promote_to=promote_to,
        promote_override_reason=" ".join(promote_override_reason.split())[:500] if promote_to else "",
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    run.full_clean()
    run.save()
    training_run_event(run=run, message=f"Queued on {dataset} ({run.get_training_type_display().lower()}).")
    if enqueue:
        job_enqueue(run)
    return run


def _check_finetune(*, params: TrainingParams, base_model: SLMModel | None) -> None:
    """LoRA needs a base model, and its targets must be layers the base model's architecture has."""
    if params.finetune != "lora":
        return
    if base_model is None:
        raise ValidationError(
            {"finetune": "LoRA fine-tunes a base model: choose one, or train every weight."}
        )
    targets = params.lora_target_list()
    if targets:
        try:
            lora_targets_check(base_model.architecture, targets, base_model.model_config.get("hf_config"))
        except BaseModelError as exc:
            raise ValidationError({"lora_targets": str(exc)}) from None


def training_run_run(*, run_id: Any, on_progress: Callable[[Any], None] | None = None) -> TrainingRun:
    """Claim a run and run it in this process (the command line); the row as it ended."""
    job_run(TrainingRun, run_id, lambda run: training_run_execute(run=run, on_progress=on_progress))
    return TrainingRun.objects.get(pk=run_id)


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


def training_run_execute(
    *, run: TrainingRun, on_progress: Callable[[Any], None] | None = None
) -> TrainingRun:
    """Run a claimed run, one service a step: train (resuming from the newest checkpoint), evaluate,
    register, promote. Always ends it completed, cancelled or failed, whichever step fails."""
    try:
        resuming = run.attempts > 1
        training_run_event(
            run=run,
            message=f"Attempt {run.attempts} on {run.worker_id}"
            + (" (resuming from the last checkpoint)" if resuming else ""),
        )
        result = training_run_train(run=run, on_progress=on_progress)
        if result.status == "cancelled":
            checkpoint = result.last_checkpoint.name if result.last_checkpoint else "none"
            return _finish(
                run,
                JobStatus.CANCELLED,
                f"Cancelled at step {result.steps}; checkpoint kept at {checkpoint}.",
                level="warning",
                step=result.steps,
            )
        training_run_trained(run=run, result=result)
        metrics, gallery = training_run_evaluate(run=run, result=result)
        model = training_run_register(run=run, result=result, metrics=metrics, gallery=gallery)
        training_run_promote(run=run, model=model)
        return _finish(run, JobStatus.COMPLETED, f"Registered {model}.")
    except (TrainingRefused, DistributedFailure, BaseModelError) as exc:
        return _finish(run, JobStatus.FAILED, str(exc), level="error")
    except Exception as exc:
        log.exception("training run %s failed", run.pk)
        return _finish(run, JobStatus.FAILED, f"{type(exc).__name__}: {exc}", level="error")


def _finish(run: TrainingRun, status: str, message: str, level: str = "info", **fields: Any) -> TrainingRun:
    """End the row first, then log it: a failure to log cannot leave the row running."""
    error = message if status == JobStatus.FAILED else ""
    with transaction.atomic():  # the event commits with the outcome it announces (core.events)
        finished = job_finish(run, status, error=error, **fields)
        if finished and status in (JobStatus.COMPLETED, JobStatus.FAILED):
            kind = (
                events.TRAINING_RUN_FINISHED if status == JobStatus.COMPLETED else events.TRAINING_RUN_FAILED
            )
            summary = {"status": status, "message": message[:500], "model_name": run.model_name}
            summary["result_model_id"] = str(run.result_model_id) if run.result_model_id else None
            events.event_emit(type=kind, obj_id=run.pk, summary=summary)
    if finished:
        try:
            training_run_event(run=run, message=message, level=level)
        except Exception:
            log.exception("training run %s ended %s but its event was not written", run.pk, status)
    run.refresh_from_db()
    return run
