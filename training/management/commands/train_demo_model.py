from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Train the demo model on the synthetic corpus within a time budget, evaluate it on 200 held-out "
        "prompts; last line: exact_adherence=<fraction> valid=<fraction>."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--budget-seconds", type=float, default=300.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", default="", help="Keep the model here (default: a temporary folder).")

    def handle(self, *args: Any, budget_seconds: float, seed: int, out: str, **options: Any) -> None:
        from slm.demo import train_demo

        keep = bool(out)
        out_dir = Path(out) if out else Path(tempfile.mkdtemp(prefix="demo-", dir=_work_dir()))
        last = {"step": -1}
        bar = progress_bar(total=None, desc="training", unit="step")

        def progress(p: Any) -> None:
            if not bar.disable:  # a terminal: one bar (budgeted runs re-estimate their total)
                bar.total = max(p.total_steps, p.step)
                bar.n = p.step
                bar.set_postfix(loss=f"{p.loss:.4f}", tok_s=f"{p.tokens_per_second:,.0f}")
                return
            if p.step - last["step"] >= 100:
                last["step"] = p.step
                self.stdout.write(
                    f"step {p.step}/{p.total_steps} loss {p.loss:.4f} "
                    f"{p.tokens_per_second:,.0f} tok/s eta {p.eta_seconds:.0f}s"
                )

        try:
            report = train_demo(out_dir, budget_seconds=budget_seconds, seed=seed, on_progress=progress)
        finally:
            bar.close()
            if not keep:
                shutil.rmtree(out_dir, ignore_errors=True)
        self.stdout.write(
            f"parameters={report.parameters} steps={report.steps} train_examples={report.train_examples} "
            f"train_seconds={report.train_seconds:.1f} wall_seconds={report.wall_seconds:.1f}"
        )
        self.stdout.write(
            f"compositional_adherence={report.compositional_adherence:.4f} "
            f"compositional_valid={report.compositional_valid:.4f} pairs={report.compositional_pairs}"
        )
        self.stdout.write(f"exact_adherence={report.exact_adherence:.4f} valid={report.valid:.4f}")


def _work_dir() -> Path:
    path = Path(settings.WORK_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path
