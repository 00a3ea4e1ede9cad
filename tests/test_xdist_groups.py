"""`make test` runs on several xdist workers; the tests that share one Redis database and one RabbitMQ vhost
must all run on one of them (conftest.pytest_collection_modifyitems). pytest 9.2 silently broke that
(pytest-xdist#1386: the group no longer reaches the scheduler), and two of them then ran at once and took
each other's messages. This checks, inside the real run, that the group reached every such test."""

from __future__ import annotations

import pytest


def test_every_test_sharing_the_brokers_is_in_one_xdist_group(request: pytest.FixtureRequest) -> None:
    config = request.config
    if not getattr(config.option, "loadgroup", False):
        pytest.skip("not running under xdist's --dist loadgroup (make test does)")
    shared = [
        item
        for item in request.session.items
        if item.get_closest_marker("e2e") or item.get_closest_marker("redis")
    ]
    if not shared:
        pytest.skip("no test sharing the brokers was collected with this one")
    ungrouped = [item.nodeid for item in shared if not item.nodeid.endswith("@shared-brokers")]
    assert not ungrouped, f"xdist will not keep these on one worker: {ungrouped[:5]}"
