"""Evaluations of model versions: the one evaluation helper (runs use it too), queue one, run it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.jobs.actor import job_run
from core.jobs.kinds import job_enqueue
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from training.artifacts import local_model_dir
from training.models import Dataset, DatasetItem, ModelEvaluation, SLMModel
from training.models.registry import ComputeType
from training.selectors import dataset_examples
from training.services.conversions import model_artifacts_convert
from training.services.evaluation_gallery import evaluation_gallery
from training.services.evaluations_external import external_evaluation_metrics

log = logging.getLogger(__name__)
EVAL_PROMPTS = 200


def evaluation_metrics(
    *,
    model_dir: Path,
    dataset: Dataset,
    on_progress: Callable[[str], None] | None = None,
    compute_type: str = "float32",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What a model does with a snapshot, used by runs and evaluations. Returns (metrics, gallery):
    - loss on the validation split; validity, non-blank and (for prompts in the synthetic grammar)
      adherence of greedy designs for up to 200 test prompts;
    - the real-data quality evaluation (slm.quality.designs): ink IoU and pixel L2 against each test
      prompt's reference beside the blank, random and retrieval baselines, degenerate designs, copies,
      diversity, the capacity check on training prompts, all per complexity third;
    - a gallery of references and designs (SVG, shown as PNGs).
    Designs are decoded as generation decodes them (CTranslate2 in `compute_type`, or the transformers
    fallback); `engine`, `compute_type` and any `engine_fallback_reason` are reported with the metrics.
    """
    from slm.adherence import parse_prompt
    from slm.decode.sampling import Generator, read_consensus
    from slm.form.decode import decode
    from slm.form.encode import try_encode
    from slm.quality.designs import Reference, evaluate_quality
    from slm.quality.grammar import design_generate, evaluate

    validation = dataset_examples(dataset=dataset, split=DatasetItem.Split.VALIDATION)
    test = (
        dataset_examples(dataset=dataset, split=DatasetItem.Split.TEST)[:EVAL_PROMPTS]
        or validation[:EVAL_PROMPTS]
    )
    train = dataset_examples(dataset=dataset, split=DatasetItem.Split.TRAIN)
    if not test:
        return {}, []
    model_artifacts_convert(final_dir=model_dir)  # as registration will (free when it already was)
    gen = Generator(model_dir, compute_type=compute_type)
    result = evaluate(model_dir, validation[:256] or test, [e.prompt for e in test], generator=gen)
    metrics: dict[str, Any] = {
        "eval_prompts": len(test),
        "val_loss": result.val_loss,
        "perplexity": result.perplexity,
        "validity_rate": result.validity_rate,
        "nonblank_rate": result.nonblank_rate,
        "valid_nonblank_rate": result.valid_nonblank_rate,
        "engine": gen.engine,
        "compute_type": gen.compute_type,
        "engine_fallback_reason": gen.fallback_reason,
    }
    if any(parse_prompt(e.prompt) for e in test):
        metrics["adherence_rate"] = result.adherence_rate
        metrics.update({f"adherence_{k}": v for k, v in result.aspect_rates.items()})
    form = gen.form

    def as_written(svg: str) -> str | None:
        if form is None:
            return svg
        encoded, _ = try_encode(svg, form)
        return decode(encoded.text, form).svg if encoded else None

    consensus, _ = read_consensus(model_dir)
    report = evaluate_quality(
        design_generate(gen),
        [Reference(e.prompt, e.svg, e.context) for e in train],
        [Reference(e.prompt, e.svg, e.context) for e in test],
        greedy=design_generate(gen, consensus=0) if consensus else None,
        as_written=as_written,
        on_progress=on_progress,
    )
    metrics.update(report.flat())
    gallery = evaluation_gallery(report)
    return {k: v for k, v in metrics.items() if v is not None}, gallery


@transaction.atomic
def model_evaluation_create(
    *,
    model_version: SLMModel,
    dataset: Dataset | None = None,
    requested_by: Any = None,
    enqueue: bool = True,
    compute_type: str = ComputeType.FLOAT32,
) -> ModelEvaluation:
    dataset = dataset or model_version.dataset
    if dataset is None:
        raise ValidationError({"dataset": "Choose a snapshot to evaluate on."})
    evaluation = ModelEvaluation(
        model_version=model_version,
        dataset=dataset,
        compute_type=compute_type,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    evaluation.full_clean()
    evaluation.save()
    if enqueue:
        job_enqueue(evaluation)
    return evaluation


def model_evaluation_run(*, evaluation_id: Any) -> ModelEvaluation:
    """Claim an evaluation and run it in this process (the command line); the row as it ended."""
    job_run(
        ModelEvaluation, evaluation_id, lambda evaluation: model_evaluation_execute(evaluation=evaluation)
    )
    return ModelEvaluation.objects.get(pk=evaluation_id)


def model_evaluation_execute(*, evaluation: ModelEvaluation) -> ModelEvaluation:
    """Run a claimed evaluation; always ends it completed or failed."""
    try:
        if evaluation.model_version.is_external:  # drawn by its endpoint, scored the same way
            metrics, gallery = external_evaluation_metrics(
                model=evaluation.model_version, dataset=evaluation.dataset
            )
        else:
            model_dir = local_model_dir(
                storage_path=evaluation.model_version.storage_path,
                cache_key=str(evaluation.model_version_id),
            )
            metrics, gallery = evaluation_metrics(
                model_dir=model_dir, dataset=evaluation.dataset, compute_type=evaluation.compute_type
            )
    except Exception as exc:
        log.exception("evaluation %s failed", evaluation.pk)
        job_finish(evaluation, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        return evaluation
    with transaction.atomic():
        if job_finish(evaluation, JobStatus.COMPLETED, metrics=metrics, gallery=gallery):
            _store_beside_float32(evaluation=evaluation, metrics=metrics)
    return evaluation


def _store_beside_float32(*, evaluation: ModelEvaluation, metrics: dict[str, Any]) -> None:
    """An evaluation in another compute type (int8) keeps its metrics on the version beside float32's
    (`metrics["int8"]`): what model_version_compute_type_set asks for before serving it that way. Only
    when the decoding really ran in that type (not the transformers fallback)."""
    if evaluation.compute_type == ComputeType.FLOAT32 or metrics.get("engine") != "ctranslate2":
        return
    version = SLMModel.objects.select_for_update().get(pk=evaluation.model_version_id)
    version.metrics = {
        **(version.metrics or {}),
        evaluation.compute_type: {
            **metrics,
            "evaluation": str(evaluation.pk),
            "dataset": str(evaluation.dataset_id),
        },
    }
    version.save(update_fields=["metrics", "updated_at"])
