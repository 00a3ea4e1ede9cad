"""bench/gpu_check.sh cannot run without an NVIDIA GPU; its shell is syntax-checked and its Python part
(bench/gpu_check.py) runs here on the CPU: training, the 2-process run (gloo), generation, the figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_script_parses() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu_check.sh")], check=True)


@pytest.mark.slow
def test_its_cpu_equivalent_runs_every_piece(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "bench/gpu_check.py",
            "--device",
            "cpu",
            "--budget",
            "2",
            "--corpus",
            "600",
            "--heldout",
            "8",
            "--processes",
            "2",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("1 process (cpu): steps=") and "adherence=" in line for line in lines)
    assert any(line.startswith("2 processes (DDP, gloo): steps=") for line in lines)
    assert any(line.startswith("ddp_scaling=") for line in lines)
