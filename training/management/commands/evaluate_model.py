from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.jobs.models import JobStatus
from core.progress import elapsed_bar
from slm.quality.designs import summary_line
from slm.quality.verdict import learning_verdict
from training.models import Dataset, SLMModel
from training.selectors import model_version_resolve
from training.services.evaluations import model_evaluation_create, model_evaluation_run


class Command(BaseCommand):
    help = "Evaluate a model version (or alias) on a snapshot's test split and print the metrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version_or_alias", help="production, atelier-slm:3, or a version's UUID")
        parser.add_argument("--dataset", default="", help="name:version of the snapshot (default: its own)")
        parser.add_argument(
            "--compute-type",
            default="float32",
            choices=["float32", "int8"],
            help="CTranslate2's compute type to decode in; an int8 evaluation's metrics are stored on the "
            "version beside float32's (what serving it in int8 requires)",
        )

    def handle(
        self, *args: Any, version_or_alias: str, dataset: str, compute_type: str = "float32", **options: Any
    ) -> None:
        try:
            model = model_version_resolve(ref=version_or_alias)
        except SLMModel.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        snapshot = model.dataset
        if dataset:
            name, _, version = dataset.rpartition(":")
            snapshot = Dataset.objects.filter(
                name=name or dataset, version=int(version) if version.isdigit() else 1
            ).first()
            if snapshot is None:
                raise CommandError(f"No snapshot {dataset!r}.")
        if snapshot is None:
            raise CommandError(f"{model} has no snapshot; pass --dataset NAME:VERSION.")
        evaluation = model_evaluation_create(
            model_version=model, dataset=snapshot, enqueue=False, compute_type=compute_type
        )
        with elapsed_bar(f"evaluating {model} on {snapshot}"):
            evaluation = model_evaluation_run(evaluation_id=evaluation.pk)
        if evaluation.status != JobStatus.COMPLETED:
            raise CommandError(f"Evaluation failed: {evaluation.error_message}")
        self.stdout.write(f"model={model} dataset={snapshot}")
        metrics = evaluation.metrics
        self.stdout.write(json.dumps(metrics, indent=2, sort_keys=True))
        for stratum in ("low", "medium", "high"):
            if f"{stratum}_n" in metrics:
                self.stdout.write(
                    f"{stratum} ({metrics[f'{stratum}_n']:.0f} prompts, ~{metrics[f'{stratum}_commands']:.0f} "
                    f"commands): iou={metrics[f'{stratum}_iou']:.4f} random_iou={metrics[f'{stratum}_random_iou']:.4f} "
                    f"retrieval_iou={metrics[f'{stratum}_retrieval_iou']:.4f} "
                    f"biou={metrics.get(f'{stratum}_biou', 0):.4f}"
                )
        if "greedy_valid" in metrics:
            self.stdout.write(f"greedy decodes valid, not degenerate: {metrics['greedy_valid']:.4f}")
        self.stdout.write(learning_verdict(metrics).sentence)
        self.stdout.write(summary_line(metrics, model.metrics.get("steps")))
