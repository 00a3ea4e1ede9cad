"""Changelists on large tables: no full COUNT(*), an estimate marked "about", a constant number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin_paging import EstimatedCountPaginator
from tests.factories import TrainingExampleFactory
from training.models import TrainingExample

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's"),
]
URL = reverse("admin:training_trainingexample_changelist")


def _counts(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_small_table_is_counted_exactly(client, superuser, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 10
    TrainingExampleFactory.create_batch(4)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 4
    assert not response.context["cl"].paginator.estimated
    assert "about 4" not in response.content.decode()


def test_large_table_is_estimated_and_never_fully_counted(client, superuser, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 3
    TrainingExampleFactory.create_batch(8)
    with CaptureQueriesContext(connection) as seen:
        response = client.get(URL)
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.paginator.estimated
    assert cl.result_count >= 4  # at least the bounded count's cap + 1
    assert f"about {cl.result_count}" in response.content.decode()
    example_counts = [sql for sql in _counts(seen.captured_queries) if "training_trainingexample" in sql]
    assert example_counts, "the bounded count ran"
    for sql in example_counts:
        assert "LIMIT 4" in sql, f"an unbounded count ran: {sql[:300]}"


def test_filtered_page_small_enough_is_exact(client, superuser, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 3
    TrainingExampleFactory.create_batch(8)
    TrainingExampleFactory.create_batch(2, status=TrainingExample.Status.APPROVED)
    response = client.get(URL + "?status__exact=approved")
    cl = response.context["cl"]
    assert cl.result_count == 2
    assert not cl.paginator.estimated


def test_estimated_changelist_runs_a_constant_number_of_queries(client, superuser, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 3
    TrainingExampleFactory.create_batch(5)
    client.get(URL)  # warm per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    TrainingExampleFactory.create_batch(60)
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert response.context["cl"].paginator.estimated
    assert len(many) == len(few)


def test_paginator_pages_through_an_estimate():
    TrainingExampleFactory.create_batch(7)
    from django.test import override_settings

    with override_settings(ADMIN_EXACT_COUNT_LIMIT=2):
        paginator = EstimatedCountPaginator(TrainingExample.objects.order_by("created_at", "pk"), 3)
        assert paginator.count >= 3
        assert paginator.estimated
        assert len(paginator.page(1).object_list) == 3


def _drilldown_links(html: str) -> set[str]:
    import re

    return set(re.findall(r"created_at__(?:year|month|day)=\d+(?:&amp;created_at__(?:month|day)=\d+)*", html))


@pytest.mark.parametrize(
    "stamps",
    [
        ["2026-03-02T10:00", "2026-03-09T23:30", "2026-03-09T01:00", "2026-03-20T12:00"],  # days of a month
        ["2026-01-15T10:00", "2026-05-03T10:00", "2026-05-04T10:00", "2026-12-31T22:00"],  # months of a year
        ["2024-06-01T10:00", "2026-02-01T10:00", "2026-02-02T10:00", "2021-01-01T00:00"],  # years
    ],
    ids=["days", "months", "years"],
)
def test_large_table_date_drilldown_matches_djangos_without_a_distinct_scan(
    client, superuser, settings, stamps
):
    from datetime import datetime

    from django.utils import timezone

    examples = TrainingExampleFactory.create_batch(len(stamps) * 2)
    for example, stamp in zip(examples, stamps * 2, strict=True):
        aware = timezone.make_aware(datetime.fromisoformat(stamp))
        TrainingExample.all_objects.filter(pk=example.pk).update(created_at=aware)
    settings.ADMIN_EXACT_COUNT_LIMIT = 1000
    exact = client.get(URL)
    assert not exact.context["cl"].paginator.estimated
    expected = _drilldown_links(exact.content.decode())
    assert len(expected) >= 3
    settings.ADMIN_EXACT_COUNT_LIMIT = 3
    with CaptureQueriesContext(connection) as seen:
        large = client.get(URL)
    assert large.context["cl"].paginator.estimated
    assert _drilldown_links(large.content.decode()) == expected
    scans = [q["sql"] for q in seen.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert not scans, scans


def test_plain_column_filter_lists_the_same_values_by_walking_its_index(client, superuser):
    import re

    for category in ("flags", "arrows", "arrows", "", "weather"):
        TrainingExampleFactory(data_category=category)
    with CaptureQueriesContext(connection) as seen:
        html = client.get(URL).content.decode()
    shown = set(re.findall(r"data_category=([a-z]+)", html))
    assert shown == {"flags", "arrows", "weather"}
    assert "data_category=&amp;" in html or 'data_category="' in html or "?data_category=" in html
    distinct = [q["sql"] for q in seen.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert not [sql for sql in distinct if "data_category" in sql], distinct
    assert any("WITH RECURSIVE" in q["sql"] for q in seen.captured_queries)
