"""Word search over training examples, ranked: PostgreSQL full-text search or SQLite FTS5 (search_sql.py).

A query's words (letters and digits; everything else separates them) must all occur in the example's name,
tags, prompt or category. Ranking, best first: a name that is exactly the words (`arrow-down` for "arrow
down"), then a name holding the words in the query's order (`arrow-down-up` before `arrow-up-down` for
"arrow down up"), then how much of the name the words are (`arrow-down` before `arrow-down-circle`), then
the weighted match over every field, then the shorter name.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, F, FloatField, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length, Lower

from training import search_sql
from training.models import TrainingExample

MAX_QUERY_CHARS = 500
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_TABLE = TrainingExample._meta.db_table


def search_words(query: str) -> list[str]:
    """The query's words; raises ValidationError (code empty_query / query_too_long) on bad input."""
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(
            f"The query is {len(query)} characters long; at most {MAX_QUERY_CHARS} are allowed.",
            code="query_too_long",
        )
    words = _WORD_RE.findall(query.lower())
    if not words:
        raise ValidationError("The query holds no words to search for.", code="empty_query")
    return words


def _postgres(qs: QuerySet, words: list[str]) -> QuerySet:
    text = " ".join(words)
    document = search_sql.pg_document(_TABLE)
    query = "plainto_tsquery('simple'::regconfig, %s)"
    return (
        qs.filter(
            pk__in=RawSQL(f'SELECT "{_TABLE}"."id" FROM "{_TABLE}" WHERE {document} @@ {query}', [text])
        )
        .annotate(
            name_rank=RawSQL(f"ts_rank({search_sql.pg_name_document(_TABLE)}, {query}, 2)", [text]),
            word_rank=RawSQL(f"ts_rank({document}, {query})", [text]),
            in_order=RawSQL(
                f"({search_sql.pg_name_document(_TABLE)} @@ phraseto_tsquery('simple'::regconfig, %s))::int",
                [text],
                output_field=IntegerField(),
            ),
        )
        .order_by(
            "-exact_name", "-in_order", "-name_rank", "-word_rank", Length("external_id"), "-created_at"
        )
    )


def _sqlite(qs: QuerySet, words: list[str]) -> QuerySet:
    match = " ".join(f'"{w}"' for w in words)  # each word a quoted FTS5 string: no operators from input
    fts, weights = search_sql.FTS_TABLE, ", ".join(str(w) for w in search_sql.FTS_WEIGHTS)
    name_match = "{external_id} : (" + match + ")"
    return (
        qs.filter(
            pk__in=RawSQL(
                f'SELECT e."id" FROM "{_TABLE}" e JOIN {fts} ON {fts}.rowid = e.rowid WHERE {fts} MATCH %s',
                [match],
            )
        )
        .annotate(
            # bm25 is lower for better matches: negate it so that both backends sort descending.
            name_rank=RawSQL(
                f"SELECT -bm25({fts}, 1.0, 0.0, 0.0, 0.0) FROM {fts} WHERE {fts} MATCH %s "
                f'AND {fts}.rowid = "{_TABLE}".rowid',
                [name_match],
                output_field=FloatField(),
            ),
            word_rank=RawSQL(
                f'SELECT -bm25({fts}, {weights}) FROM {fts} WHERE {fts} MATCH %s AND {fts}.rowid = "{_TABLE}".rowid',
                [match],
                output_field=FloatField(),
            ),
            in_order=RawSQL(
                f'SELECT count(*) FROM {fts} WHERE {fts} MATCH %s AND {fts}.rowid = "{_TABLE}".rowid',
                ["{external_id} : " + '"' + " ".join(words) + '"'],  # a phrase: the words in this order
                output_field=IntegerField(),
            ),
        )
        .order_by(
            "-exact_name",
            "-in_order",
            F("name_rank").desc(nulls_last=True),
            "-word_rank",
            Length("external_id"),
            "-created_at",
        )
    )


RANK_ORDER = ("-exact_name", "-in_order", "-name_rank", "-word_rank")  # what a changelist orders by


def training_example_search(*, query: str, qs: QuerySet | None = None) -> QuerySet[TrainingExample]:
    """Examples matching every word of `query`, best first (see the module's docstring)."""
    words = search_words(query)
    qs = qs if qs is not None else TrainingExample.objects.select_related("style_guide", "import_batch")
    names = [sep.join(words) for sep in ("-", "_", " ")]
    qs = qs.annotate(lower_name=Lower("external_id")).annotate(
        exact_name=Case(
            When(lower_name__in=names, then=Value(1)), default=Value(0), output_field=IntegerField()
        )
    )
    if connection.vendor == "postgresql":
        return _postgres(qs, words)
    if connection.vendor == "sqlite":
        return _sqlite(qs, words)
    return qs.annotate(name_rank=Value(0.0), word_rank=Value(0.0), in_order=Value(0)).filter(
        prompt__icontains=" ".join(words)
    )
