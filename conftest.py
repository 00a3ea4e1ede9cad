"""Test-wide fixtures: real files under tmp dirs, the in-process Dramatiq broker for actors; users with roles
and tiny models come from tests.shared_fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

# Users with roles and tiny models, shared by every test directory.
pytest_plugins = ["tests.shared_fixtures"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` runs the suite on several xdist workers (--dist loadgroup): the tests that share one Redis
    # database and one RabbitMQ vhost run on one worker, one after another. First: xdist's own hook reads
    # the groups into the test ids, and a mark added after it is ignored (two such tests then ran at once
    # on two workers, each worker's broker consumers taking the other test's messages).
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("redis"):
            item.add_marker(pytest.mark.xdist_group("shared-brokers"))


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.WORK_DIR = tmp_path / "work"


@pytest.fixture(autouse=True)
def _inline_api_log(settings) -> None:
    # A test's rows live in its own transaction, which the log's writer thread cannot see; the writer
    # is tested on its own (tests/api/test_api_log_writer.py).
    settings.API_LOG_WRITE = "inline"


@pytest.fixture(autouse=True)
def _fresh_content_types() -> None:
    # A transactional test's flush recreates content types with new ids; audit rows need the new ones.
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def broker_reset(broker: StubBroker) -> None:
    """Empty every queue, and forget the messages a stopped worker took and never finished: it holds a
    delayed message (a retry's backoff, a webhook's next try) in memory, the stub consumer cannot give it
    back, and the queue would count it as unfinished for ever, so every later join would wait out its
    timeout (seen in CI: the browser flows' teardown, after an earlier test's worker stopped so)."""
    broker.flush_all()
    for queue in broker.queues.values():
        with queue.all_tasks_done:
            queue.unfinished_tasks = 0
            queue.all_tasks_done.notify_all()


@pytest.fixture
def stub_broker() -> Iterator[StubBroker]:
    broker = dramatiq.get_broker()
    assert isinstance(broker, StubBroker), "unit tests run on the stub broker (unset REDIS_URL)"
    broker_reset(broker)
    yield broker
    broker_reset(broker)


@pytest.fixture
def stub_worker(stub_broker: StubBroker) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(stub_broker, worker_timeout=100, worker_threads=1)
    worker.start()
    yield worker
    worker.stop()


def _left_in(broker: StubBroker) -> str:
    """What is still queued, per queue: actor, arguments and, for a delayed message, when it is due."""
    lines = []
    for name, queue in sorted(broker.queues.items()):
        for raw in list(queue.queue):
            message = dramatiq.Message.decode(raw)
            eta = message.options.get("eta")
            lines.append(f"{name}: {message.actor_name}{tuple(message.args)} eta={eta}")
    return "\n".join(lines) or "(nothing queued: a message is still being worked on)"


@pytest.fixture
def draining_worker(stub_broker: StubBroker, stub_worker: dramatiq.Worker) -> Iterator[dramatiq.Worker]:
    """The stub broker's worker, running every queue of every app (a live server in this process
    enqueues); at the end every queue must drain, and what did not is named."""
    from core.embedded import import_tasks_modules

    import_tasks_modules()
    yield stub_worker
    for queue in sorted(stub_broker.get_declared_queues()):
        try:
            stub_broker.join(queue, timeout=120_000)
        except dramatiq.errors.QueueJoinTimeout:
            pytest.fail(f"queue {queue} did not drain in 120 s; left:\n{_left_in(stub_broker)}")
    stub_worker.join()


@pytest.fixture
def roles(db) -> None:
    """The role groups (a transactional test before this one may have flushed the migration's rows)."""
    from django.apps import apps

    from core.roles import sync_roles

    sync_roles(apps)
