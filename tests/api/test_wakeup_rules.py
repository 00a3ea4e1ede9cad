"""The in-process side of `?wait=N` wake-ups: a wait keeps what its own worker handed it, and a Redis
that cannot be reached costs a warning, never the request."""

from __future__ import annotations

import uuid

from generation import events, events_redis


def test_a_wait_keeps_what_its_worker_handed_it() -> None:
    output_id = uuid.uuid4()
    finished = events.Finished(fields={"status": "completed"})
    with events.waiting_for(output_id) as waiter:
        events.wake(output_id, finished)
        events.wake(str(output_id))  # the same finish, echoed back by Redis without its payload
        assert waiter.is_set() and waiter.finished is finished


def test_an_unreachable_redis_is_logged_not_raised(settings, caplog) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    events_redis.publish(uuid.uuid4())
    assert "could not publish" in caplog.text
