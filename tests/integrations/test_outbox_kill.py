"""At least once: a process that commits an event and is killed at once (SIGKILL, before anything could
be sent) leaves the outbox row; the sweeper of any worker delivers it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from standardwebhooks import Webhook

from core import events
from core.models import OutboxEvent
from integrations.services.subscriptions import webhook_subscription_create
from integrations.tasks import sweep

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]

# The "web process": moves an alias through the registry service and dies the moment the transaction
# commits (its own on-commit hook runs before the one that would wake the dispatcher).
COMMIT_AND_DIE = """
import os, signal
import django
django.setup()
from django.db import transaction
from training.models import SLMModel
from training.services.registry import model_alias_move

with transaction.atomic():
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    model = SLMModel.objects.create(model_name="killed", version=1)
    model_alias_move(name="staging", model_version=model, system=True, note="before the crash")
"""


def test_an_event_committed_by_a_killed_process_is_still_delivered(
    receiver, webhook_settings, stub_worker
) -> None:
    _, secret = webhook_subscription_create(url=receiver.url, events=[])
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ATELIER_ENV_FILE")}
    env |= {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-c", COMMIT_AND_DIE], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    left = OutboxEvent.objects.get(type=events.ALIAS_MOVED)
    assert left.dispatched_at is None and receiver.got == []  # committed, and nothing was sent

    sweep()  # what every worker runs now and then (core.jobs.periodic)

    (got,) = receiver.wait_for(1)
    body = Webhook(secret).verify(got.body, got.headers)
    assert (
        body["data"]["summary"]["to"] == "killed v1" and body["data"]["summary"]["why"] == "before the crash"
    )
    assert got.headers["webhook-id"] == f"msg_{left.pk}"
    left.refresh_from_db()
    assert left.dispatched_at is not None
