"""The changelist's date drill-down on large tables, without a scan.

Django's `date_hierarchy` lists the years, months or days that hold rows with `SELECT DISTINCT
date_trunc(…)` over every matching row: at 400,000 examples in one month that read them all (about a
second here) on every changelist page. On a large table (the paginator estimated its count) the same
links come from one query of EXISTS probes instead, one per candidate bucket (at most 31), each an index
range probe that stops at its first row. Small tables keep Django's query.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django.contrib.admin.templatetags.admin_list import date_hierarchy as django_date_hierarchy
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

MAX_BUCKETS = 62  # more candidate years than this: Django's own query


def _starts(first: dt.datetime, last: dt.datetime, kind: str) -> list[dt.datetime]:
    """The starts of every `kind` bucket from first's to last's, as naive local datetimes."""
    if kind == "year":
        return [dt.datetime(y, 1, 1) for y in range(first.year, last.year + 1)]
    if kind == "month":
        out, y, m = [], first.year, first.month
        while (y, m) <= (last.year, last.month):
            out.append(dt.datetime(y, m, 1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
    day, out = dt.datetime(first.year, first.month, first.day), []
    while day.date() <= last.date():
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def _next(start: dt.datetime, kind: str) -> dt.datetime:
    if kind == "year":
        return start.replace(year=start.year + 1)
    if kind == "month":
        return (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    return start + dt.timedelta(days=1)


def probed_buckets(queryset: QuerySet, field: str, kind: str, *, datetimes: bool) -> list[Any]:
    """What `queryset.datetimes(field, kind)` (or `.dates`) returns, by EXISTS probes: one query more
    for the range, one for the probes."""
    qs = queryset.order_by()
    bounds = qs.aggregate(first=Min(field), last=Max(field))
    if bounds["first"] is None:
        return []
    aware = datetimes and timezone.is_aware(bounds["first"])
    first, last = (timezone.localtime(bounds[k]) if aware else bounds[k] for k in ("first", "last"))
    if not datetimes:
        first, last = (dt.datetime(d.year, d.month, d.day) for d in (first, last))
    starts = _starts(first, last, kind)
    if len(starts) > MAX_BUCKETS:
        return list(getattr(queryset, "datetimes" if datetimes else "dates")(field, kind))
    tz = timezone.get_current_timezone()

    def edge(naive: dt.datetime) -> Any:
        return timezone.make_aware(naive, tz) if aware else naive if datetimes else naive.date()

    probes, params = [], []
    for start in starts:
        sub = qs.filter(**{f"{field}__gte": edge(start), f"{field}__lt": edge(_next(start, kind))})
        sql, sub_params = sub.values("pk")[:1].query.sql_with_params()
        probes.append(f"EXISTS({sql})")
        params.extend(sub_params)
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(probes), params)
        found = cursor.fetchone()
    return [edge(s) if datetimes else s.date() for s, hit in zip(starts, found, strict=True) if hit]


class _ProbedQuerySet:
    """Stands in for `cl.queryset` inside Django's date_hierarchy: aggregates pass through, the bucket
    listings are probed."""

    def __init__(self, queryset: QuerySet) -> None:
        self._qs = queryset

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._qs.aggregate(*args, **kwargs)

    def datetimes(self, field: str, kind: str) -> list[Any]:
        return probed_buckets(self._qs, field, kind, datetimes=True)

    def dates(self, field: str, kind: str) -> list[Any]:
        return probed_buckets(self._qs, field, kind, datetimes=False)


def large_table_date_hierarchy(cl: Any) -> dict[str, Any] | None:
    """Django's date_hierarchy context; on a large table (an estimated count), without its scan."""
    paginator = getattr(cl, "paginator", None)
    if not getattr(paginator, "estimated", False):
        return django_date_hierarchy(cl)
    probed = copy.copy(cl)
    probed.queryset = _ProbedQuerySet(cl.queryset)
    return django_date_hierarchy(probed)
