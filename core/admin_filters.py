"""List filters over a column's distinct values, without reading the table.

Django's AllValuesFieldListFilter (a list filter on a text or number column without choices) lists its
values with `SELECT DISTINCT col FROM table`, which reads every row (or every index entry) on each
changelist page. On PostgreSQL this filter walks the column's index instead, one probe per distinct value
(a "loose index scan" written as a recursive query), and stops after MAX_VALUES: a sidebar longer than
that is no use to a person. Every list filter column has an index (the `*_admin_filter_indexes` migrations).
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.filters import AllValuesFieldListFilter
from django.db import connections, models

MAX_VALUES = 200


def distinct_values(model: type[models.Model], column: str, *, nullable: bool, using: str) -> list[Any]:
    """The column's distinct values in order (None last when any row has none), by index probes."""
    connection = connections[using]
    table, col = (connection.ops.quote_name(n) for n in (model._meta.db_table, column))
    sql = (
        f"WITH RECURSIVE walk(v) AS ((SELECT {col} FROM {table} WHERE {col} IS NOT NULL ORDER BY {col} LIMIT 1)"
        f" UNION ALL SELECT (SELECT {col} FROM {table} WHERE {col} > walk.v ORDER BY {col} LIMIT 1)"
        f" FROM walk WHERE walk.v IS NOT NULL) SELECT v FROM walk WHERE v IS NOT NULL LIMIT {MAX_VALUES}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        values = [row[0] for row in cursor.fetchall()]
        if nullable:
            cursor.execute(f"SELECT EXISTS(SELECT 1 FROM {table} WHERE {col} IS NULL)")
            if cursor.fetchone()[0]:
                values.append(None)
    return values


class _LazyValues:
    """Evaluated when the sidebar renders (as Django's queryset is), once."""

    def __init__(self, load: Any) -> None:
        self._load, self._values = load, None

    def __iter__(self):
        if self._values is None:
            self._values = self._load()
        return iter(self._values)


class IndexedValuesFilter(AllValuesFieldListFilter):
    """AllValuesFieldListFilter whose choices come from an index walk on PostgreSQL."""

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:  # noqa: ANN001
        super().__init__(field, request, params, model, model_admin, field_path)
        queryset = self.lookup_choices
        if connections[queryset.db].vendor != "postgresql" or field_path != field.name:
            return
        if queryset.query.where:  # the admin's queryset narrows the rows: keep Django's query
            return
        self.lookup_choices = _LazyValues(
            lambda: distinct_values(model, field.column, nullable=field.null, using=queryset.db)
        )


def _plain_column(model: type[models.Model], name: str) -> models.Field | None:
    try:
        field = model._meta.get_field(name)
    except Exception:  # a path through a relation, or not a field: Django's own filter
        return None
    if not getattr(field, "concrete", False) or field.is_relation or field.choices:
        return None
    if isinstance(field, models.BooleanField | models.DateField | models.JSONField):
        return None
    return field


def with_indexed_values(model: type[models.Model], list_filter: list[Any]) -> list[Any]:
    """The admin's list filters, each plain-column one (Django's AllValues) walking its index instead."""
    return [
        (entry, IndexedValuesFilter) if isinstance(entry, str) and _plain_column(model, entry) else entry
        for entry in list_filter
    ]
