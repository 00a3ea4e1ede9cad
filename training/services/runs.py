"""Training runs: queue one, cancel it, and run it (train, evaluate, register, promote)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core.jobs.actor import job_run
from core.jobs.kinds import job_enqueue
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from slm.base import BaseModelError, lora_targets_check
from slm.decode.sampling import read_form
from slm.form.spec import FormSpec
from slm.train.config import TrainExample
from slm.train.launch import DistributedFailure, Nodes
from training.artifacts import local_model_dir
from training.models import Dataset, DatasetItem, SLMModel, TrainingMetric, TrainingRun, TrainingRunEvent
from training.params import TrainingParams
from training.selectors import dataset_examples
from training.services.evaluations import evaluation_metrics
from training.services.profiles import dataset_profile, dataset_recipe
from training.services.registry import model_alias_check, model_alias_move, model_version_register

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 2.0
MIN_TRAIN_EXAMPLES = 8


class TrainingRefused(Exception):
    """The run cannot train on what it was given; the message says why (the run fails with it)."""


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
    enqueue: bool = True,
) -> TrainingRun:
    """Queue a run (with enqueue, a worker takes it after commit; else `training_run_run` runs it here).
    Parameters left out come from the recipe derived from the snapshot (slm.recipe)."""
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
    if promote_to:  # checked now, not when the run ends: may this user point that alias?
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


class _RunCallbacks:
    """Progress into the row (throttled), metrics per report, and the cancel flag every step."""

    def __init__(self, run: TrainingRun, also: Callable[[Any], None] | None = None) -> None:
        self.run_id = run.pk
        self.last_write = 0.0
        self.also = also  # a command's progress bar

    def on_progress(self, p: Any) -> None:
        if self.also is not None:
            self.also(p)
        now = time.monotonic()
        total = max(int(p.total_steps or 0), p.step, 1)
        TrainingMetric.objects.bulk_create(
            [
                TrainingMetric(run_id=self.run_id, step=p.step, name=name, value=float(value))
                for name, value in (
                    ("loss", p.loss),
                    ("learning_rate", p.learning_rate),
                    ("tokens_per_second", p.tokens_per_second),
                )
            ],
            ignore_conflicts=True,  # a resumed run reports some steps again
        )
        if now - self.last_write >= PROGRESS_EVERY_S or p.step >= total:
            self.last_write = now
            TrainingRun.objects.filter(pk=self.run_id).update(
                step=p.step,
                total_steps=total,
                loss=float(p.loss),
                tokens_per_second=float(p.tokens_per_second),
                eta_seconds=float(p.eta_seconds),
                progress=min(p.step / total, 1.0),
            )

    def should_stop(self) -> bool:
        return bool(TrainingRun.objects.filter(pk=self.run_id, cancel_requested=True).exists())


def training_run_execute(
    *, run: TrainingRun, on_progress: Callable[[Any], None] | None = None
) -> TrainingRun:
    """Run a claimed run: train (resuming from the newest checkpoint), evaluate, register, promote.
    Always ends it completed, cancelled or failed."""
    resuming = run.attempts > 1
    training_run_event(
        run=run,
        message=f"Attempt {run.attempts} on {run.worker_id}"
        + (" (resuming from the last checkpoint)" if resuming else ""),
    )
    callbacks = _RunCallbacks(run, on_progress)
    try:
        # Inside the try: a broken install must fail the run, not strand it.
        from slm.train.loop import train

        params = TrainingParams.from_dict(run.training_params)
        train_set = dataset_examples(dataset=run.dataset, split=DatasetItem.Split.TRAIN)
        val_set = dataset_examples(dataset=run.dataset, split=DatasetItem.Split.VALIDATION) or train_set[:64]
        init_from = None
        if run.base_model_id:
            init_from = local_model_dir(
                storage_path=run.base_model.storage_path, cache_key=str(run.base_model_id)
            )
        form = _form_for(run=run, params=params, init_from=init_from)
        if form is not None:
            train_set, val_set = _in_form(run=run, form=form, train_set=train_set, val_set=val_set)
        training_run_event(
            run=run,
            message=f"Training on {len(train_set)} examples, validating on {len(val_set)}"
            + (f", designs in the model form on a {form.grid}-unit grid." if form else "."),
            data={"params": params.as_dict(), "form": form.as_dict() if form else None},
        )
        config = params.train_config()
        config.svg_form = form.as_dict() if form else None
        nodes = Nodes.from_env()
        if nodes.rank != 0:
            raise TrainingRefused(
                f"This worker is node {nodes.rank} of {nodes.count} (NODE_RANK): only node 0 takes runs; "
                f"the other nodes join with `python manage.py train_run {run.pk}`."
            )
        if params.processes > 1 or nodes.count > 1:
            # torchrun runs the loop as N processes (slm.train.launch); this thread follows it.
            from slm.train.launch import launch

            result = launch(
                config,
                train_set,
                val_set,
                run_dir(run),
                processes=params.processes,
                max_restarts=params.max_restarts,
                on_progress=callbacks.on_progress,
                should_stop=callbacks.should_stop,
                on_event=lambda message, level: training_run_event(run=run, message=message, level=level),
                init_from=init_from,
                nodes=nodes,
            )
        else:
            result = train(
                config,
                train_set,
                val_set,
                run_dir(run),
                on_progress=callbacks.on_progress,
                should_stop=callbacks.should_stop,
                init_from=init_from,
            )
        if result.status == "cancelled":
            checkpoint = result.last_checkpoint.name if result.last_checkpoint else "none"
            return _finish(
                run,
                JobStatus.CANCELLED,
                f"Cancelled at step {result.steps}; checkpoint kept at {checkpoint}.",
                level="warning",
                step=result.steps,
            )
        resumed = f", resumed from step {result.resumed_from_step}" if result.resumed_from_step else ""
        training_run_event(
            run=run,
            message=f"Training finished at step {result.steps}{resumed} "
            f"(loss {result.train_loss:.4f}, {result.tokens_per_second:,.0f} tokens/s). Evaluating.",
            data={"resumed_from_step": result.resumed_from_step, "steps": result.steps},
        )
        _report_training(run=run, result=result, context=params.n_positions)
        metrics = result.metrics()
        evaluated, gallery = evaluation_metrics(model_dir=result.final_dir, dataset=run.dataset)
        # The training loop's own validation loss stays; the evaluation adds what it measured on top.
        metrics.update({k: v for k, v in evaluated.items() if k not in ("val_loss", "perplexity")})
        model = model_version_register(
            run=run,
            final_dir=result.final_dir,
            metrics=metrics,
            parameter_count=result.parameters,
            gallery=gallery,
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
    except (TrainingRefused, DistributedFailure, BaseModelError) as exc:
        return _finish(run, JobStatus.FAILED, str(exc), level="error")
    except Exception as exc:
        log.exception("training run %s failed", run.pk)
        return _finish(run, JobStatus.FAILED, f"{type(exc).__name__}: {exc}", level="error")


def _form_for(*, run: TrainingRun, params: TrainingParams, init_from: Path | None) -> FormSpec | None:
    """How this run's model writes designs: a base model's own way, else (from scratch, or an imported
    base model, which writes the form as plain text) the snapshot's grid (or the grid the parameters
    name)."""
    pretrained = (
        run.base_model is not None and run.base_model.training_strategy == SLMModel.Strategy.PRETRAINED
    )
    if init_from is not None and not pretrained:
        return read_form(init_from)  # None: an older base model that writes raw SVG text
    profiled = FormSpec.from_dict(dataset_profile(dataset=run.dataset).get("form"))
    if params.grid:
        return FormSpec(grid=params.grid, view=profiled.view if profiled else float(params.grid))
    # A new model writes the current form version; a profile stored before it says version 1, but its grid
    # holds for every version (each spells the same drawing).
    return FormSpec(grid=profiled.grid, view=profiled.view) if profiled else None


def _in_form(
    *, run: TrainingRun, form: FormSpec, train_set: list[TrainExample], val_set: list[TrainExample]
) -> tuple[list[TrainExample], list[TrainExample]]:
    """Both splits in the model form; the designs it cannot express are reported (each with its reason)
    and left out. Too few left fails the run before it trains."""
    from slm.train.data import to_forms

    converted, failures = to_forms(train_set, form)
    val_converted, _ = to_forms(val_set, form)
    if failures:
        listed = [{"prompt": train_set[f.index].prompt[:200], "reason": f.reason} for f in failures[:100]]
        training_run_event(
            run=run,
            level="warning",
            message=f"{len(failures)} of {len(train_set)} training examples cannot be written in the model "
            f"form and are left out; training goes on with the other {len(converted)}. First: "
            + "; ".join(f"“{x['prompt'][:60]}”: {x['reason']}" for x in listed[:3]),
            data={"unconvertible": len(failures), "examples": listed},
        )
    if len(converted) < MIN_TRAIN_EXAMPLES:
        raise TrainingRefused(
            f"Only {len(converted)} of {len(train_set)} training examples can be written in the model form; "
            f"a model needs at least {MIN_TRAIN_EXAMPLES}."
        )
    return converted, val_converted or converted[:64]


def _report_training(*, run: TrainingRun, result: Any, context: int) -> None:
    """What the loop measured besides the loss: left-out sequences, validation checks, the kept state."""
    if result.skipped_examples:
        training_run_event(
            run=run,
            level="warning",
            message=f"{result.skipped_examples} training sequence(s) are longer than the context of "
            f"{context} tokens and were left out (raise n_positions to keep them).",
            data={"skipped_examples": result.skipped_examples},
        )
    TrainingMetric.objects.bulk_create(
        [
            TrainingMetric(run=run, step=int(check["step"]), name=name, value=float(check[name]))
            for check in result.validation
            for name in ("val_loss", "val_iou")
            if name in check
        ],
        ignore_conflicts=True,
    )
    if result.kept_step is not None:
        check = next((c for c in result.validation if int(c["step"]) == result.kept_step), {})
        figures = ", ".join(f"{k} {v:.4f}" for k, v in check.items() if k != "step")
        training_run_event(
            run=run,
            message=f"Kept the weights of step {result.kept_step} ({figures}), the best validation check, "
            f"rather than those of the last step {result.steps}.",
            data={"kept_step": result.kept_step, "validation": result.validation},
        )


def _finish(run: TrainingRun, status: str, message: str, level: str = "info", **fields: Any) -> TrainingRun:
    error = message if status == JobStatus.FAILED else ""
    if job_finish(run, status, error=error, **fields):
        training_run_event(run=run, message=message, level=level)
    run.refresh_from_db()
    return run
