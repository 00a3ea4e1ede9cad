"""`?wait=N` across processes: a finish committed by another process (a `rundramatiq` worker) wakes this
process's waits through Redis (generation.events_redis), not at their next poll."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from generation import events
from tests.e2e.conftest import REPO

pytestmark = [pytest.mark.e2e]

FINISH = (
    "import django; django.setup(); from generation.events import output_finished; output_finished({id!r})"
)


def test_a_finish_in_another_process_wakes_the_wait_here(settings, redis_url: str) -> None:
    settings.REDIS_URL = redis_url
    output_id = str(uuid.uuid4())
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": redis_url}
    with events.waiting_for(output_id) as waiter, events.waiting_for(uuid.uuid4()) as other:
        done = subprocess.run(
            [sys.executable, "-c", FINISH.format(id=output_id)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert waiter.wait(30), "the other process's finish never reached this wait"
        assert waiter.finished is None  # read back from the database by the caller
        assert not other.is_set()  # only the waits on that request wake
