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


@pytest.fixture
def stub_broker() -> Iterator[StubBroker]:
    broker = dramatiq.get_broker()
    assert isinstance(broker, StubBroker), "unit tests run on the stub broker (unset REDIS_URL)"
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def stub_worker(stub_broker: StubBroker) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(stub_broker, worker_timeout=100, worker_threads=1)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def roles(db) -> None:
    """The role groups (a transactional test before this one may have flushed the migration's rows)."""
    from django.apps import apps

    from core.roles import sync_roles

    sync_roles(apps)
