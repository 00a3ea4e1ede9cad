"""The request log's writer thread (API_LOG_WRITE="background", the deployed default): every call still
leaves its row, with the request's own facts, and a row that cannot be stored as it is does not cost the
others theirs. Transactional tests: the writer has its own database connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.background import BackgroundWriter
from core.roles import API_CONSUMERS
from generation.api_log import api_log_flush, api_requests_store
from generation.models import ApiRequest
from tests.api.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/generations/"


@pytest.fixture
def background(settings: Any, roles: None) -> None:
    settings.API_LOG_WRITE = "background"


def test_calls_are_logged_by_the_writer_thread_with_their_own_facts(background: None) -> None:
    user = UserFactory()
    user.groups.add(Group.objects.get(name=API_CONSUMERS))
    api = client_for(user)
    answers = [api.get(URL), api.post(URL, {"text": ""}, format="json"), api.get(f"{URL}?page=x&token=t")]
    assert api_log_flush(10)
    rows = list(ApiRequest.objects.order_by("request_time"))
    assert [r.status_code for r in rows] == [a.status_code for a in answers]
    assert all(r.user_id == user.pk and r.ip_address == "127.0.0.1" for r in rows)
    assert all(r.request_time <= r.response_time <= timezone.now() for r in rows)
    assert rows[1].error_detail and "text" in rows[1].error_detail
    assert rows[2].request_payload["query"]["token"] == "[redacted]"


def row(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    base = {
        "user": None,
        "endpoint": URL,
        "method": "GET",
        "request_time": now,
        "response_time": now,
        "duration_ms": 3,
        "status_code": 200,
        "payload": {"query": {}},
        "ip_address": "10.0.0.1",
    }
    return {**base, **overrides}


def test_a_row_that_will_not_store_costs_the_others_nothing(roles: None) -> None:
    gone = "00000000-0000-0000-0000-000000000000"  # a prompt that no longer exists
    rows = [row(endpoint="/a"), row(endpoint="/b", prompt_id=gone), row(endpoint="/c")]
    api_requests_store(rows)
    stored = {r.endpoint: r for r in ApiRequest.objects.all()}
    assert set(stored) == {"/a", "/b", "/c"}
    assert stored["/b"].prompt_id is None and stored["/a"].ip_address == "10.0.0.1"


def test_items_gathered_while_writing_share_one_write() -> None:
    batches: list[list[int]] = []
    writing, release = threading.Event(), threading.Event()

    def write(items: list[int]) -> None:
        batches.append(items)
        writing.set()
        release.wait(5)

    writer: BackgroundWriter[int] = BackgroundWriter(write, name="test-writer")
    writer.put(0)
    assert writing.wait(5)  # the thread has taken it and is writing
    for i in range(1, 50):
        writer.put(i)
    release.set()
    assert writer.flush(5)
    assert [i for b in batches for i in b] == list(range(50))
    assert len(batches) == 2  # the first item alone, then the 49 that gathered meanwhile


def test_a_failing_write_does_not_stop_the_thread() -> None:
    seen: list[list[int]] = []

    def write(items: list[int]) -> None:
        seen.append(items)
        if items == [1]:
            raise RuntimeError("database gone")

    writer: BackgroundWriter[int] = BackgroundWriter(write, name="test-writer")
    writer.put(1)
    assert writer.flush(5)
    writer.put(2)
    assert writer.flush(5)
    assert seen == [[1], [2]]
