"""core.sqlite: the threads of a process take turns for write transactions, and never keep the turn."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from core.models import User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backend's own behaviour (CI's PostgreSQL has row locks instead)")


def _lock():
    from core.sqlite.base import _write_lock

    return _write_lock


def test_a_rolled_back_transaction_gives_the_turn_back() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create(username="first", email="first@example.com")
        assert _lock().locked()
        raise RuntimeError("boom")
    assert not _lock().locked() and not User.objects.filter(username="first").exists()


def test_many_threads_writing_at_once_all_commit_and_leave_the_turn_free() -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with transaction.atomic():
                    User.objects.create(username=f"u{n}-{i}", email=f"u{n}-{i}@example.com")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and User.objects.filter(username__startswith="u").count() == 80
    assert not _lock().locked()
