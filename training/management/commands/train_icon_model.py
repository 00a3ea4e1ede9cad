from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.db import require_migrated
from core.jobs.models import JobStatus
from core.progress import progress_bar
from slm.quality.designs import summary_line
from slm.quality.verdict import learning_verdict
from training.services.pipelines import icon_model_pipeline_run


class Command(BaseCommand):
    help = (
        "Import an icon set (or any path import_training_data reads), freeze a seeded snapshot, train with "
        "the snapshot's default recipe within the budget, and evaluate. Last line: valid_nondegenerate=… "
        "iou=… l2=… blank_l2=… random_iou=… retrieval_iou=… train_iou=… biou=… random_biou=… "
        "retrieval_biou=… greedy_valid=… steps=…"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument(
            "--budget-seconds", type=int, default=600, help="Training time (evaluation after)."
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="Fixes the split, the sample order, the init."
        )
        parser.add_argument("--name", default="", help="Snapshot and model name (default: from the path).")
        parser.add_argument(
            "--promote-to",
            default="",
            help="Point this alias (e.g. production) at the version; production only moves to a version "
            "whose verdict is not 'not learned'.",
        )
        parser.add_argument(
            "--override-reason",
            default="",
            help="Move production even to a version that has not learned its set, for this reason (kept in "
            "the alias history).",
        )

    def handle(
        self,
        *args: Any,
        path: str,
        budget_seconds: int,
        seed: int,
        name: str,
        promote_to: str = "",
        override_reason: str = "",
        **options: Any,
    ) -> None:
        require_migrated()
        source = Path(path).expanduser().resolve()
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        bar = progress_bar(total=None, desc="training", unit="step")
        last = {"step": -1}

        def progress(p: Any) -> None:
            if not bar.disable:
                bar.total = max(p.total_steps, p.step)
                bar.n = p.step
                bar.set_postfix(loss=f"{p.loss:.3f}", tok_s=f"{p.tokens_per_second:,.0f}")
                bar.refresh()
            elif p.step - last["step"] >= 250:
                last["step"] = p.step
                self.stdout.write(f"step {p.step}/{p.total_steps} loss {p.loss:.4f} eta {p.eta_seconds:.0f}s")

        try:
            result = icon_model_pipeline_run(
                source=source,
                budget_seconds=budget_seconds,
                seed=seed,
                snapshot_name=name,
                promote_to=promote_to,
                promote_override_reason=override_reason,
                on_step=lambda msg: self.stdout.write(msg),
                on_progress=progress,
            )
        except (ValidationError, ValueError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        finally:
            bar.close()
        run = result.run
        for event in run.events.order_by("created_at"):
            self.stdout.write(f"[{event.level}] {event.message}")
        if run.status != JobStatus.COMPLETED or run.result_model is None:
            raise CommandError(f"Training {run.status}: {run.error_message}")
        metrics = run.result_model.metrics
        self.stdout.write(f"model={run.result_model} dataset={result.dataset}")
        for stratum in ("low", "medium", "high"):
            if f"{stratum}_n" in metrics:
                self.stdout.write(
                    f"{stratum}: n={metrics[f'{stratum}_n']:.0f} iou={metrics[f'{stratum}_iou']:.4f} "
                    f"random_iou={metrics[f'{stratum}_random_iou']:.4f} "
                    f"retrieval_iou={metrics[f'{stratum}_retrieval_iou']:.4f} "
                    f"biou={metrics.get(f'{stratum}_biou', 0):.4f} "
                    f"random_biou={metrics.get(f'{stratum}_random_biou', 0):.4f}"
                )
        self.stdout.write(
            f"degenerate: unrenderable={metrics.get('degenerate_unrenderable', 0):.4f} "
            f"blank={metrics.get('degenerate_blank', 0):.4f} filled={metrics.get('degenerate_filled', 0):.4f} "
            f"copies={metrics.get('copy_rate', 0):.4f} diversity={metrics.get('diversity', 0):.2f}/4"
        )
        if "iou_greedy" in metrics:  # the designs were chosen by consensus: the greedy decodes beside them
            self.stdout.write(
                f"greedy decodes: valid_nondegenerate={metrics['valid_nondegenerate_greedy']:.4f} "
                f"iou={metrics['iou_greedy']:.4f} biou={metrics.get('biou_greedy', 0):.4f} "
                f"train_iou={metrics['train_iou_greedy']:.4f}"
            )
        self.stdout.write(learning_verdict(metrics).sentence)
        if promote_to:
            self.stdout.write(_promotion(run, promote_to))
        self.stdout.write(summary_line(metrics, int(metrics.get("steps", run.step))))


def _promotion(run: Any, alias: str) -> str:
    """One plain line: did the version become `alias`, and if not, why (the gate's refusal)."""
    if run.result_model.aliases.filter(name=alias).exists():
        return f"Promoted: {alias} now points at {run.result_model}."
    refused = run.events.filter(data__promoted=False).order_by("-created_at").first()
    if refused is None:
        return f"Did not promote {run.result_model} to {alias}."
    return f"{refused.message} (--override-reason REASON moves it anyway.)"
