"""The evaluation of an external version: the same real-data figures as our own versions' (slm.quality's
ink IoU, pixel L2 and their baselines, degenerate designs, copies, per complexity third) and the same
validity and adherence rates, on the same snapshot's test split, the designs drawn by its endpoint. There
is no loss (an endpoint gives no likelihoods), so no val_loss or perplexity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from training.artifacts import external_generator
from training.models import Dataset, DatasetItem, SLMModel
from training.selectors import dataset_examples
from training.services.evaluation_gallery import evaluation_gallery

EVAL_PROMPTS = 200


def external_evaluation_metrics(
    *, model: SLMModel, dataset: Dataset, on_progress: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metrics, gallery) as training.services.evaluations.evaluation_metrics gives them."""
    from slm.adherence import parse_prompt
    from slm.quality.designs import Reference, evaluate_quality
    from slm.quality.grammar import score_samples

    validation = dataset_examples(dataset=dataset, split=DatasetItem.Split.VALIDATION)
    test = (
        dataset_examples(dataset=dataset, split=DatasetItem.Split.TEST)[:EVAL_PROMPTS]
        or validation[:EVAL_PROMPTS]
    )
    train = dataset_examples(dataset=dataset, split=DatasetItem.Split.TRAIN)
    if not test:
        return {}, []
    gen = external_generator(model)
    seen: dict[tuple[str, str | None, int, float, int], list[str]] = {}

    def generate(refs: Sequence[Any], n: int, temperature: float, seed: int) -> list[list[str]]:
        out = []
        for i, r in enumerate(refs):  # one call per prompt; the greedy ones asked twice are asked once
            key = (r.prompt, r.context, n, temperature, seed + i if temperature > 0 else 0)
            if key not in seen:
                [samples] = gen.generate(
                    [r.prompt], n=n, seed=key[4], temperature=temperature, context=r.context
                )
                seen[key] = [s.text for s in samples]
            out.append(seen[key])
        return out

    try:
        refs = [Reference(e.prompt, e.svg, e.context) for e in test]
        greedy = [c[0] if c else "" for c in generate(refs, 1, 0.0, 0)]
        result = score_samples([e.prompt for e in test], greedy)
        metrics: dict[str, Any] = {
            "eval_prompts": len(test),
            "validity_rate": result.validity_rate,
            "nonblank_rate": result.nonblank_rate,
            "valid_nonblank_rate": result.valid_nonblank_rate,
            "engine": "external",
            "endpoint": model.endpoint_url,
            "external_model": model.external_model,
        }
        if any(parse_prompt(e.prompt) for e in test):
            metrics["adherence_rate"] = result.adherence_rate
            metrics.update({f"adherence_{k}": v for k, v in result.aspect_rates.items()})
        report = evaluate_quality(
            generate, [Reference(e.prompt, e.svg, e.context) for e in train], refs, on_progress=on_progress
        )
    finally:
        gen.close()
    metrics.update(report.flat())
    gallery = evaluation_gallery(report)
    return {k: v for k, v in metrics.items() if v is not None}, gallery
