"""A stop leaves nothing running: every process a command starts (import workers and multiprocessing's
resource tracker, render and decode processes, dramatiq's workers) ends when the command ends, whether
it is stopped (SIGTERM) or killed (SIGKILL). Real commands in subprocesses, on a migrated SQLite file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table in /proc"),
]


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a process, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every live process below `root`, with its start time (a pid reused later is not the same one)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents.setdefault(st[0], []).append(int(entry.name))
            starts[int(entry.name)] = st[2]
    out, todo = {}, [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out[child] = starts[child]
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Watched:
    """A command in a subprocess, its output collected, and every process it ever started remembered."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.seen: dict[int, str] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def look(self) -> dict[int, str]:
        self.seen.update(_descendants(self.proc.pid))
        return self.seen

    def wait_for(self, what: str, predicate, timeout: float = 120) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.look()
            if predicate():
                return
            assert self.proc.poll() is None, f"ended before {what}:\n{''.join(self.lines)[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no {what} in {timeout} s:\n{''.join(self.lines)[-3000:]}")

    def children_like(self, text: str) -> list[int]:
        return [pid for pid in self.seen if text in _cmdline(pid)]

    def stop(self, sig: int) -> list[str]:
        """Send `sig`, wait for the command, then 10 s: what is still running of what it started."""
        self.look()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.left():
            time.sleep(0.2)
        return [f"{pid} {_cmdline(pid)}" for pid in self.left()]

    def left(self) -> list[int]:
        alive = []
        for pid, start in self.seen.items():
            st = _stat(pid)
            if st is not None and st[2] == start and st[1] != "Z":
                alive.append(pid)
        return alive

    def cleanup(self) -> None:
        for pid in [self.proc.pid, *self.left()]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("var")
    env = _env(var)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return var


@pytest.fixture
def var(migrated: Path, tmp_path: Path) -> Path:
    """A fresh copy of the migrated database, its own media and work folders."""
    out = tmp_path / "var"
    out.mkdir()
    shutil.copy(migrated / "atelier.sqlite3", out / "atelier.sqlite3")
    return out


def _env(var: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ATELIER_ENV_FILE")}
    env.update(
        PYTHONPATH=str(REPO),
        ATELIER_VAR_DIR=str(var),
        ATELIER_WORK_DIR=str(var / "work"),
        MEDIA_ROOT=str(var / "media"),
        ATELIER_ENV_FILE=str(var / "none.env"),
        ATELIER_DEMO_MODEL="0",
        IMPORT_WORKERS="2",
        **extra,
    )
    return env


def _dot(i: int) -> str:
    """The i-th of 4,096 distinct small stroke icons."""
    x, y, r = 4 + i % 16, 4 + (i // 16) % 16, 2 + (i // 256) % 16
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
        f'stroke="currentColor" stroke-width="2"><circle cx="{x}" cy="{y}" r="{r}"/>'
        f'<path d="M{x} 2 L{y} 22"/></svg>'
    )


@pytest.fixture(scope="module")
def icons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An icon folder big enough for the import to start its check workers (past its first 1,000 rows)."""
    root = tmp_path_factory.mktemp("icons")
    folder = root / "icons"
    folder.mkdir()
    for i in range(3000):
        (folder / f"dot-{i}.svg").write_text(_dot(i))
        (folder / f"dot-{i}.json").write_text('{"tags": ["dot", "line"], "categories": ["shapes"]}')
    return root


def _train(icons: Path, var: Path) -> Watched:
    return Watched(["train_icon_model", str(icons), "--budget-seconds", "120"], _env(var))


def test_sigterm_during_the_import_leaves_no_worker(icons: Path, var: Path) -> None:
    run = _train(icons, var)
    try:
        run.wait_for("import workers", lambda: len(run.children_like("spawn_main")) >= 2)
        left = run.stop(signal.SIGTERM)
    finally:
        run.cleanup()
    assert left == [], left


def test_sigkill_while_training_leaves_no_worker(icons: Path, var: Path) -> None:
    run = _train(icons, var)
    try:
        run.wait_for("the snapshot", lambda: any("Freezing snapshot" in line for line in run.lines), 300)
        time.sleep(3)  # into the training
        assert run.children_like("spawn_main"), "the import's workers are kept for the next import"
        left = run.stop(signal.SIGKILL)
    finally:
        run.cleanup()
    assert left == [], left


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A tiny model (a few steps: its designs do not matter) registered behind `production`, and the token of a
# consumer who is also a curator: what a generation and an import need.
PRODUCTION = """
import django, sys; django.setup()
from pathlib import Path
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from core.roles import API_CONSUMERS, CURATORS
from slm.model import ModelConfig
from slm.synthetic import generate_corpus
from slm.train.config import TrainConfig
from slm.train.loop import train
from training.models import Dataset, ModelAlias, TrainingRun
from training.services.registry import model_version_register
corpus = list(generate_corpus(100, seed=3))
config = TrainConfig(model=ModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=256), batch_size=8,
                     max_steps=3, budget_seconds=None, checkpoint_every=0, warmup_steps=1, num_threads=1)
result = train(config, corpus[:90], corpus[90:], Path(sys.argv[1]) / "run")
run = TrainingRun.objects.create(dataset=Dataset.objects.create(name="d", version=1, status="ready"),
                                 model_name="tiny", status="running")
model = model_version_register(run=run, final_dir=result.final_dir, metrics={}, parameter_count=1)
ModelAlias.objects.create(name="production", model_version=model)
user = get_user_model().objects.create_user("consumer")
user.groups.add(Group.objects.get(name=API_CONSUMERS), Group.objects.get(name=CURATORS))
print(Token.objects.create(user=user).key)
"""


def test_sigterm_stops_serve_after_a_generation(var: Path) -> None:
    env = _env(var, DJANGO_SETTINGS_MODULE="config.settings")
    made = subprocess.run(
        [sys.executable, "-c", PRODUCTION, str(var)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr[-3000:]
    token = made.stdout.split()[-1]
    port = _free_port()
    run = Watched(["serve", f"127.0.0.1:{port}", "--no-demo-model"], env)

    def answering() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        run.wait_for("the server", answering, 120)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/generations/?wait=60",
            data=json.dumps({"text": "a red circle", "count": 2, "temperature": 0.8}).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=90) as response:
            assert json.load(response)["status"] in ("completed", "failed")
        # An import big enough for check workers (multiprocessing's pool, and its resource tracker).
        rows = "".join(json.dumps({"prompt": f"dot {i}", "svg": _dot(i)}) + "\n" for i in range(2500))
        upload = requests.post(
            f"http://127.0.0.1:{port}/api/v1/imports/",
            headers={"Authorization": f"Token {token}"},
            files={"file": ("dots.jsonl", rows.encode())},
            data={"dry_run": "true"},
            timeout=60,
        )
        assert upload.status_code in (201, 202), upload.text
        run.wait_for("import workers", lambda: len(run.children_like("spawn_main")) >= 2)
        assert run.children_like("slm.decode.serving"), "the model decoded in a process of its own"
        left = run.stop(signal.SIGTERM)
    finally:
        run.cleanup()
    assert left == [], left


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_rundramatiq_stopped_or_killed_leaves_no_worker(var: Path, sig: int) -> None:
    run = Watched(["rundramatiq", "--processes", "2", "--threads", "1"], _env(var))
    try:
        run.wait_for("two worker processes", lambda: len(run.look()) >= 2, 120)
        time.sleep(3)  # the workers up
        left = run.stop(sig)
    finally:
        run.cleanup()
    assert left == [], left


def test_runserver_serves_a_favicon_and_logs_a_404_once(var: Path) -> None:
    """Not a process's lifetime but its log, on the same migrated database: each event one line."""
    port = _free_port()
    run = Watched(["runserver", f"127.0.0.1:{port}", "--noreload"], _env(var))

    def answering() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        run.wait_for("the server", answering, 120)
        icon = requests.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=30)
        assert icon.status_code == 200 and icon.headers["Content-Type"] == "image/svg+xml"
        assert requests.get(f"http://127.0.0.1:{port}/no-such-page", timeout=30).status_code == 404
        time.sleep(1)
        run.stop(signal.SIGTERM)
    finally:
        run.cleanup()
    logged = [line for line in run.lines if "/no-such-page" in line]
    assert len(logged) == 1, logged
