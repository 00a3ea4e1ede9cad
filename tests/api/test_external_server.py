"""External versions against a second Atelier server: a real `manage.py serve` subprocess on a free loopback
port, with its own ATELIER_VAR_DIR and its own migrated SQLite database, serving a tiny model it trained
(behind its `production` alias) through its OpenAI-compatible /v1 endpoint to a consumer's token. No mock:
this test's own database registers an external version against it, generates through it, and evaluates it
with `evaluate_model` beside a local version that is the same weights, registered here and decoded
in-process; the comparison page shows both."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from cryptography.fernet import Fernet

from generation.models import ApiRequest, DesignOutput, OutputImage
from tests.api.conftest import client_for

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
URL = "/api/v1/generations/?wait=120"

# Run in the second server's environment: a tiny model trained for long enough that greedy decodes are
# SVG (tests/ml's small model, ~1 min on one core), registered behind `production`; a consumer and a token.
SETUP = """
import django, sys; django.setup()
from pathlib import Path
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from core.roles import API_CONSUMERS
from slm.model import ModelConfig
from slm.synthetic import generate_corpus
from slm.train.config import TrainConfig
from slm.train.loop import train
from training.models import Dataset, ModelAlias, TrainingRun
from training.services.registry import model_version_register
corpus = list(generate_corpus(1500, seed=11))
config = TrainConfig(model=ModelConfig(n_layer=2, n_embd=64, n_head=4, n_positions=256), batch_size=32,
                     learning_rate=5e-3, warmup_steps=10, max_steps=120, budget_seconds=None,
                     checkpoint_every=0, num_threads=1)
result = train(config, corpus[:1400], corpus[1400:], Path(sys.argv[1]) / "run")
run = TrainingRun.objects.create(dataset=Dataset.objects.create(name="d", version=1, status="ready"),
                                 model_name="served", status="running")
model = model_version_register(run=run, final_dir=result.final_dir, metrics={}, parameter_count=1)
ModelAlias.objects.create(name="production", model_version=model)
user = get_user_model().objects.create_user("first-server")
user.groups.add(Group.objects.get(name=API_CONSUMERS))
print(result.final_dir)
print(Token.objects.create(user=user).key)
"""


@dataclass
class SecondServer:
    url: str  # its OpenAI-compatible base URL
    token: str
    final_dir: Path  # the weights it serves
    var: Path  # its ATELIER_VAR_DIR: its SQLite database and serve.log

    def log(self) -> str:
        return (self.var / "serve.log").read_text()[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(var: Path) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "DRAMATIQ_BROKER_URL", "ATELIER_ENV_FILE", "TEST_REDIS_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PYTHONPATH=str(REPO),
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{var / 'second.sqlite3'}",
        ATELIER_VAR_DIR=str(var),
        ATELIER_WORK_DIR=str(var / "work"),
        MEDIA_ROOT=str(var / "media"),
        ATELIER_ENV_FILE=str(var / "none.env"),
        ATELIER_DEMO_MODEL="0",
    )
    return env


def _run(args: list[str], env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def second_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondServer]:
    var = tmp_path_factory.mktemp("second-atelier")
    env = _env(var)
    _run([sys.executable, "manage.py", "migrate", "--no-input"], env, 300)
    final_dir, token = _run([sys.executable, "-c", SETUP, str(var)], env, 600).split()[-2:]
    port, log = _free_port(), var / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}", "--no-demo-model"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = SecondServer(f"http://127.0.0.1:{port}/v1", token, Path(final_dir), var)
    try:
        deadline = time.monotonic() + 120
        while not _answers(port):
            assert proc.poll() is None, f"the second server ended:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, (
                f"the second server never answered:\n{log.read_text()[-3000:]}"
            )
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(autouse=True)
def _external_settings(settings: Any) -> None:
    settings.EXTERNAL_KEYS_FERNET = [Fernet.generate_key().decode()]
    settings.EXTERNAL_MAX_RETRIES = 0
    settings.EXTERNAL_TIMEOUT_SECONDS = 60


@pytest.fixture
def worker(stub_broker: Any) -> Iterator[dramatiq.Worker]:
    """This side's worker: its generation and evaluation jobs call the second server."""
    from core.embedded import import_tasks_modules

    import_tasks_modules()
    w = dramatiq.Worker(stub_broker, worker_timeout=100, worker_threads=2)
    w.start()
    yield w
    w.stop()


def _snapshot() -> Any:
    from training.models import Dataset, DatasetItem

    dataset = Dataset.objects.create(name="icons", version=1, status="ready")
    colours = ["#e53935", "#1e88e5", "#43a047", "#fdd835"]
    for i, colour in enumerate(colours * 2):
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">'
            f'<circle cx="48" cy="48" r="{10 + 3 * i}" fill="{colour}"/></svg>'
        )
        DatasetItem.objects.create(
            dataset=dataset,
            split="train" if i < 4 else "test",
            prompt=f"a circle {i} in {colour}",
            svg_content=svg,
            content_hash=f"{i:064x}",
        )
    return dataset


def _register_hosted(server: SecondServer, dataset: Any = None) -> Any:
    from training.services.external import external_model_register

    return external_model_register(
        model_name="hosted",
        endpoint_url=server.url,
        external_model="production",
        api_key=server.token,
        dataset=dataset,
        shots=2,
    )


def test_a_generation_is_drawn_by_the_second_server_and_its_key_never_shows(
    second_server, owner, worker, caplog, client, superuser
):
    caplog.set_level(logging.DEBUG)
    key = second_server.token
    hosted = _register_hosted(second_server)
    assert hosted.api_key_encrypted and key not in hosted.api_key_encrypted
    body = client_for(owner).post(URL, {"text": "a red circle", "model": "hosted:1"}, format="json").json()
    assert body["status"] == "completed", (body, second_server.log())
    assert body["model_version"]["name"] == "hosted" and len(body["designs"]) == 1
    outer = DesignOutput.objects.get(pk=body["id"])
    assert outer.model_version == hosted
    assert DesignOutput.objects.count() == 1  # the second server's own generation is in its own database
    svg = OutputImage.objects.get(output=outer, file_type="svg").file.read().decode()
    assert svg.startswith("<svg") and "</svg>" in svg
    # The second server logged the call in its own database, under its consumer.
    served = _second_db_rows(
        second_server,
        "SELECT r.endpoint, r.status_code, u.username FROM generation_apirequest r "
        "JOIN core_user u ON u.id = r.user_id",
    )
    assert ("/v1/chat/completions", 200, "first-server") in served
    # The key: in no page, log line or request row, on either side, nor in the audit trail.
    pages = [
        client.get(f"/admin/training/slmmodel/{hosted.pk}/change/"),
        client.get("/admin/training/slmmodel/"),
        client_for(owner).get("/api/v1/models/"),
        client_for(owner).get(f"/api/v1/generations/{body['id']}/"),
    ]
    for page in pages:
        assert page.status_code == 200 and key not in page.content.decode()
    from auditlog.models import LogEntry

    here = repr(list(ApiRequest.objects.values())) + repr(list(LogEntry.objects.values()))
    there = repr(_second_db_rows(second_server, "SELECT * FROM generation_apirequest"))
    assert key not in here and hosted.api_key_encrypted not in here and key not in there
    assert key not in caplog.text and key not in second_server.log()


def _second_db_rows(server: SecondServer, sql: str) -> list[tuple]:
    import sqlite3

    db = sqlite3.connect(server.var / "second.sqlite3", timeout=30)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_evaluate_model_on_the_second_server_beside_a_local_version(second_server, worker, client, superuser):
    from django.core.management import call_command
    from django.urls import reverse

    from training.models import ModelEvaluation, TrainingRun
    from training.services.registry import model_version_register

    dataset = _snapshot()
    hosted = _register_hosted(second_server, dataset)
    shots = [
        e["prompt"] for e in hosted.prompt_recipe["examples"]
    ]  # few-shot, from the snapshot's train split
    assert shots == ["a circle 0 in #e53935", "a circle 1 in #1e88e5"]
    run = TrainingRun.objects.create(dataset=dataset, model_name="atelier-slm", status="running")
    local = model_version_register(run=run, final_dir=second_server.final_dir, metrics={}, parameter_count=1)
    call_command("evaluate_model", "hosted:1")
    call_command("evaluate_model", "atelier-slm:1", "--dataset", "icons:1")
    found = {e.model_version_id: e for e in ModelEvaluation.objects.all()}
    external, own = found[hosted.pk], found[local.pk]
    assert external.status == "completed" and own.status == "completed", (
        external.error_message,
        own.error_message,
    )
    assert external.metrics["engine"] == "external" and external.metrics["eval_prompts"] == 4
    assert own.metrics["engine"] != "external"
    for metrics in (external.metrics, own.metrics):
        assert 0 <= metrics["validity_rate"] <= 1 and "iou" in metrics and "random_iou" in metrics
    assert external.metrics["validity_rate"] > 0 and "<svg" in external.gallery[0]["svg"]
    # every design of the evaluation was drawn by the second server: nothing decoded here for `hosted`
    served = _second_db_rows(second_server, "SELECT count(*) FROM generation_apirequest")
    assert served[0][0] >= 4
    page = client.post(
        reverse("admin:training_slmmodel_changelist"),
        {"action": "compare", "_selected_action": [str(local.pk), str(hosted.pk)]},
    )
    html = page.content.decode()
    assert page.status_code == 200 and "hosted v1" in html and "atelier-slm v1" in html
    assert (
        "eval iou" in html
        and f"{external.metrics['iou']:.4g}" in html
        and f"{own.metrics['iou']:.4g}" in html
    )
    assert second_server.token not in html
