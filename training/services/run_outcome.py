"""A trained run's last three steps, each a service of its own: evaluate the model it trained, register
it as a version, and point the alias the run names at it (through production's gate)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from training.models import SLMModel, TrainingRun
from training.services.evaluations import evaluation_metrics
from training.services.registry import model_alias_move, model_version_register, production_refusal
from training.services.run_state import training_run_event


def training_run_evaluate(*, run: TrainingRun, result: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's metrics (the training loop's, then what the evaluation measured) and its gallery."""
    metrics = result.metrics()
    evaluated, gallery = evaluation_metrics(model_dir=result.final_dir, dataset=run.dataset)
    # The training loop's own validation loss stays; the evaluation adds what it measured on top.
    metrics.update({k: v for k, v in evaluated.items() if k not in ("val_loss", "perplexity")})
    return metrics, gallery


def training_run_register(
    *, run: TrainingRun, result: Any, metrics: dict[str, Any], gallery: list[dict[str, Any]]
) -> SLMModel:
    """The trained model as a new version in the registry, its artifacts in storage."""
    return model_version_register(
        run=run,
        final_dir=result.final_dir,
        metrics=metrics,
        parameter_count=result.parameters,
        gallery=gallery,
    )


def training_run_promote(*, run: TrainingRun, model: SLMModel) -> bool:
    """Point the run's `promote_to` alias at its model; False when it did not (nothing asked, or
    production's gate refused a version that has not learned its set and nobody gave a reason to
    override: then a warning event says why, and the run still completes with its version registered)."""
    if not run.promote_to:
        return False
    overriding = bool(production_refusal(name=run.promote_to, model_version=model))
    try:
        model_alias_move(
            name=run.promote_to,
            model_version=model,
            moved_by=run.requested_by,
            note=f"Promoted by training run {run.pk}",
            system=run.requested_by is None,
            override_reason=run.promote_override_reason,
        )
    except ValidationError as exc:
        if "override_reason" not in getattr(exc, "message_dict", {}):
            raise
        training_run_event(
            run=run,
            level="warning",
            message=f"Did not promote {model} to {run.promote_to}: "
            + " ".join(exc.message_dict["override_reason"]),
            data={"promoted": False, "alias": run.promote_to},
        )
        return False
    overridden = f" (its verdict overridden: {run.promote_override_reason})" if overriding else ""
    training_run_event(run=run, message=f"Alias {run.promote_to} now points at {model}{overridden}.")
    return True
