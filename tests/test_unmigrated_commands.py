"""A curator's first command on a database nobody migrated yet says what to run, not a traceback about a
missing table (seen: `train_icon_model` on a fresh ATELIER_VAR_DIR)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", ["train_icon_model", "import_training_data"])
def test_a_command_on_an_unmigrated_database_says_to_migrate(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "icons"
    folder.mkdir()
    (folder / "dot.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" r="4"/></svg>'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ATELIER_ENV_FILE")}
    env["ATELIER_VAR_DIR"] = str(tmp_path / "var")
    done = subprocess.run(
        [sys.executable, "manage.py", command, str(folder)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert "run `python manage.py migrate`" in done.stderr and "not applied yet" in done.stderr
