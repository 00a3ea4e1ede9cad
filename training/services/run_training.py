"""A run's first step: train (resuming from the newest checkpoint), in this thread or as torchrun's
processes, with progress, metrics and the cancel flag written through the run's row."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slm.decode.sampling import read_form
from slm.form.spec import FormSpec
from slm.train.config import TrainExample
from slm.train.launch import Nodes
from slm.train.setup_data import TooFewExamples
from training.artifacts import local_model_dir
from training.models import DatasetItem, SLMModel, TrainingMetric, TrainingRun
from training.params import TrainingParams
from training.selectors import dataset_examples
from training.services.profiles import dataset_profile
from training.services.run_data import dataset_shards, streamed_form_failures
from training.services.run_state import TrainingRefused, run_dir, training_run_event

PROGRESS_EVERY_S = 2.0
MIN_TRAIN_EXAMPLES = 8


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


def training_run_train(*, run: TrainingRun, on_progress: Callable[[Any], None] | None = None) -> Any:
    """Train a claimed run; slm.train's result (its `status` is "cancelled" when the cancel flag stopped
    it). Raises TrainingRefused when the data or the node cannot train."""
    from slm.shards import ShardChecksumError
    from slm.train.stream import ShardSet

    callbacks = _RunCallbacks(run, on_progress)
    params = TrainingParams.from_dict(run.training_params)
    init_from = None
    if run.base_model_id:
        init_from = local_model_dir(
            storage_path=run.base_model.storage_path, cache_key=str(run.base_model_id)
        )
    form = _form_for(run=run, params=params, init_from=init_from)
    train_set, val_set = _run_data(run=run, form=form)
    grid = f", designs in the model form on a {form.grid}-unit grid." if form else "."
    if isinstance(train_set, ShardSet):
        rows = sum(s.rows for s in train_set.train)
        message = f"Training on {rows} examples streamed from {len(train_set.train)} Parquet shard(s)"
    else:
        message = f"Training on {len(train_set)} examples, validating on {len(val_set)}"
    training_run_event(
        run=run,
        message=message + grid,
        data={"params": params.as_dict(), "form": form.as_dict() if form else None},
    )
    config = params.train_config()
    config.min_examples = MIN_TRAIN_EXAMPLES
    config.svg_form = form.as_dict() if form else None
    nodes = Nodes.from_env()
    if nodes.rank != 0:
        raise TrainingRefused(
            f"This worker is node {nodes.rank} of {nodes.count} (NODE_RANK): only node 0 takes runs; "
            f"the other nodes join with `python manage.py train_run {run.pk}`."
        )
    try:
        return _train(run, config, params, nodes, train_set, val_set, callbacks, init_from)
    except ShardChecksumError as exc:
        raise TrainingRefused(str(exc)) from exc
    except TooFewExamples as exc:  # slm counted what the model form left: say which designs and why
        if exc.unconvertible:
            _form_failures_event(
                run=run, kept=exc.kept, failed=exc.unconvertible, first=exc.failures, went_on=False
            )
        raise TrainingRefused(str(exc)) from exc


def _run_data(*, run: TrainingRun, form: FormSpec | None) -> tuple[Any, Any]:
    """The snapshot's Parquet shards, streamed; or, for a snapshot without them, both splits read from
    its items (in the model form, with the designs it cannot express reported)."""
    shards = dataset_shards(dataset=run.dataset)
    if shards is not None:
        return shards, []
    train_set = dataset_examples(dataset=run.dataset, split=DatasetItem.Split.TRAIN)
    val_set = dataset_examples(dataset=run.dataset, split=DatasetItem.Split.VALIDATION) or train_set[:64]
    if form is not None:
        train_set, val_set = _in_form(run=run, form=form, train_set=train_set, val_set=val_set)
    return train_set, val_set


def _train(
    run: TrainingRun,
    config: Any,
    params: TrainingParams,
    nodes: Nodes,
    train_set: Any,
    val_set: Any,
    callbacks: _RunCallbacks,
    init_from: Path | None,
) -> Any:
    # Imported here: a broken install must fail the run (the caller catches it), not the import.
    from slm.train.loop import train

    if params.processes > 1 or nodes.count > 1:
        # torchrun runs the loop as N processes (slm.train.launch); this thread follows it.
        from slm.train.launch import launch

        return launch(
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
    return train(
        config,
        train_set,
        val_set,
        run_dir(run),
        on_progress=callbacks.on_progress,
        should_stop=callbacks.should_stop,
        init_from=init_from,
    )


def training_run_trained(*, run: TrainingRun, result: Any) -> None:
    """Record what the finished training measured: the event, left-out sequences, validation checks."""
    resumed = f", resumed from step {result.resumed_from_step}" if result.resumed_from_step else ""
    training_run_event(
        run=run,
        message=f"Training finished at step {result.steps}{resumed} "
        f"(loss {result.train_loss:.4f}, {result.tokens_per_second:,.0f} tokens/s). Evaluating.",
        data={"resumed_from_step": result.resumed_from_step, "steps": result.steps},
    )
    _report_training(
        run=run, result=result, context=TrainingParams.from_dict(run.training_params).n_positions
    )


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
    listed = [{"prompt": train_set[f.index].prompt[:200], "reason": f.reason} for f in failures[:100]]
    enough = len(converted) >= MIN_TRAIN_EXAMPLES
    if failures:
        _form_failures_event(run=run, kept=len(converted), failed=len(failures), first=listed, went_on=enough)
    if not enough:
        raise TrainingRefused(
            str(TooFewExamples(kept=len(converted), unconvertible=len(failures), minimum=MIN_TRAIN_EXAMPLES))
        )
    return converted, val_converted or converted[:64]


def _report_training(*, run: TrainingRun, result: Any, context: int) -> None:
    """What the loop measured besides the loss: left-out sequences, validation checks, the kept state."""
    kept, failed, first = streamed_form_failures(out_dir=run_dir(run))
    if failed:
        _form_failures_event(run=run, kept=kept, failed=failed, first=first, went_on=True)
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


def _form_failures_event(
    *, run: TrainingRun, kept: int, failed: int, first: list[Any], went_on: bool
) -> None:
    """The training designs a run could not write in the model form, with the first reasons."""
    after = f"training went on with the other {kept}" if went_on else "too few are left to train on"
    training_run_event(
        run=run,
        level="warning",
        message=f"{failed} of {kept + failed} training examples cannot be written in the model form and "
        f"were left out; {after}. First: "
        + "; ".join(f"“{x['prompt'][:60]}”: {x['reason']}" for x in first[:3]),
        data={"unconvertible": failed, "examples": first},
    )
