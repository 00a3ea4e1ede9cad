"""In-process wake-ups for `?wait`: a finish wakes the waits on that request only."""

from __future__ import annotations

import threading
import uuid

from generation import events


def test_a_finish_wakes_only_the_waits_on_that_request() -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    with events.waiting_for(mine) as a, events.waiting_for(mine) as b, events.waiting_for(other) as c:
        events.output_finished(mine)
        assert a.is_set() and b.is_set() and not c.is_set()
    assert events._waiters == {}  # nothing left behind


def test_a_finish_between_subscribing_and_waiting_is_not_missed() -> None:
    key = uuid.uuid4()
    with events.waiting_for(key) as finished:
        threading.Thread(target=events.output_finished, args=(str(key),)).start()
        assert finished.wait(5)
