"""A job through each broker, between real processes: a snapshot's export sent from one process (after
its commit) is run by a `rundramatiq` worker in another, on Redis and on RabbitMQ (loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Processes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SNAPSHOT = """
import json
from core.svg import clean_svg
from slm.synthetic import generate_corpus
from training.models import TrainingExample
from training.services.snapshots import dataset_snapshot_create
from django.db import transaction
for ex in generate_corpus(12, seed=3, unique=True):
    clean = clean_svg(ex.svg)
    TrainingExample.objects.get_or_create(content_hash=clean.content_hash,
        defaults={"prompt": ex.prompt, "svg_content": clean.svg, "status": "approved"})
with transaction.atomic():  # the export job is sent after this commits
    snapshot = dataset_snapshot_create(name="broker", examples=TrainingExample.objects.all())
print(json.dumps({"id": str(snapshot.pk)}))
"""


def test_a_job_sent_after_commit_is_run_by_a_worker_in_another_process(
    tmp_path: Path, pg_url: str, redis_url: str, broker_env: dict[str, str], processes: Processes
) -> None:
    import psycopg

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DJANGO_", "ATELIER_"))
        and k not in ("REDIS_URL", "RABBITMQ_URL", "DRAMATIQ_BROKER_URL", "DATABASE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=pg_url,
        REDIS_URL=redis_url,
        ATELIER_VAR_DIR=str(tmp_path / "var"),
        ATELIER_DEMO_MODEL="0",
        LOG_LEVEL="WARNING",
        **broker_env,
    )

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    manage("migrate", "--noinput")
    processes.start(
        "worker", [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1"], env
    )
    snapshot_id = json.loads(manage("shell", "--no-imports", "-c", SNAPSHOT).strip().splitlines()[-1])["id"]
    deadline = time.monotonic() + 120
    with psycopg.connect(pg_url, autocommit=True) as db:
        while time.monotonic() < deadline:
            status, error = db.execute(
                "SELECT status, error_message FROM training_dataset WHERE id = %s", (snapshot_id,)
            ).fetchone()
            if status != "processing":
                break
            time.sleep(0.5)
    assert status == "ready", f"{status}: {error}\n{processes.tails()}"
    if "RABBITMQ_URL" in broker_env:  # the message went through RabbitMQ: its queue exists there, drained
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(broker_env["RABBITMQ_URL"]))
        try:
            queue = connection.channel().queue_declare("imports", passive=True)  # raises if absent
            assert queue.method.message_count == 0
        finally:
            connection.close()
