"""Changelists that stay fast on large tables: a paginator that never runs a full COUNT(*).

Django's admin asks its paginator for `count` on every changelist page (and, unless
`show_full_result_count` is off, counts the whole table a second time). On PostgreSQL a COUNT(*) reads
every live row, so a million-row changelist waited seconds for a number nobody reads exactly. Here the
count is exact while it is small and bounded in cost: at most `ADMIN_EXACT_COUNT_LIMIT` + 1 rows are
counted (`SELECT COUNT(*) FROM (… LIMIT n)`); past that the planner's estimate for the same filtered
query is shown (PostgreSQL's `reltuples` statistics, through EXPLAIN), marked "about" on the page.
Other databases (SQLite, the `make run` default) count exactly.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

from core.admin_filters import with_indexed_values

DEFAULT_EXACT_COUNT_LIMIT = 10_000


def exact_count_limit() -> int:
    return int(getattr(settings, "ADMIN_EXACT_COUNT_LIMIT", DEFAULT_EXACT_COUNT_LIMIT))


def planner_row_estimate(queryset: QuerySet) -> int:
    """The planner's row estimate for a queryset (one EXPLAIN, nothing executed)."""
    connection = connections[queryset.db]
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Exact count up to a cap (bounded work), the planner's estimate beyond it; `estimated` says which."""

    estimated = False

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):
            return super().count
        if connections[object_list.db].vendor != "postgresql":
            return object_list.count()
        limit = exact_count_limit()
        bounded = object_list.order_by()[: limit + 1].count()
        if bounded <= limit:
            return bounded
        self.estimated = True
        # Never below what was just counted: the estimate is a lower bound's neighbour, not a page cap.
        return max(planner_row_estimate(object_list), bounded)


class LargeTableAdminMixin:
    """Every changelist: no second full count, a paginator that does not count large tables, and list
    filters on plain columns that walk their index instead of `SELECT DISTINCT` (core.admin_filters)."""

    show_full_result_count = False
    paginator: Any = EstimatedCountPaginator

    def get_list_filter(self, request: Any) -> list[Any]:
        return with_indexed_values(self.model, list(super().get_list_filter(request)))  # type: ignore[misc]
