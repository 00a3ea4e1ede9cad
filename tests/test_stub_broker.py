"""The test suite's own broker fixture: a worker stopped while it holds a delayed message leaves nothing
behind that makes a later test's join wait out its timeout (CI's browser flows did, after such a test)."""

from __future__ import annotations

import time

import dramatiq
import pytest
from dramatiq.errors import QueueJoinTimeout

from conftest import _left_in, broker_reset

QUEUE = "test-stub-broker"


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def later() -> None:
    pass


def _held_by_a_stopped_worker(broker) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    later.send_with_options(delay=3_600_000)  # due in an hour: the worker keeps it in memory
    deadline = time.monotonic() + 10
    while broker.queues[f"{QUEUE}.DQ"].qsize() and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop()


def test_a_stopped_worker_holding_a_delayed_message_would_block_every_later_join(stub_broker) -> None:
    _held_by_a_stopped_worker(stub_broker)
    stub_broker.flush_all()  # dramatiq's own flush: the message the worker took still counts
    with pytest.raises(QueueJoinTimeout):
        stub_broker.join(QUEUE, timeout=300)


def test_the_reset_between_tests_forgets_it(stub_broker) -> None:
    _held_by_a_stopped_worker(stub_broker)
    broker_reset(stub_broker)
    stub_broker.join(QUEUE, timeout=300)


def test_a_queue_that_does_not_drain_is_named_with_what_is_left(stub_broker) -> None:
    later.send_with_options(delay=3_600_000)  # no worker: it stays on the delay queue
    left = _left_in(stub_broker)
    assert f"{QUEUE}.DQ: later() eta=" in left
