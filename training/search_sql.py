"""The SQL of word search over training examples, shared by its migration and its selector.

PostgreSQL: one weighted tsvector over name (external_id, weight A), tags (B), prompt and category (C),
with the 'simple' configuration (no stemming, no stop words: icon names are not English prose), and a GIN
index on exactly that expression so the planner uses it. SQLite: an FTS5 table over the same columns,
with the examples table as its external content, kept in step by triggers.
"""

PG_INDEX_NAME = "example_search_gin"


def pg_document(table: str = "") -> str:
    col = (lambda name: f'"{table}"."{name}"') if table else (lambda name: name)
    return (
        f"(setweight(to_tsvector('simple'::regconfig, coalesce({col('external_id')}, '')), 'A') || "
        f"setweight(to_tsvector('simple'::regconfig, coalesce({col('tags')}::text, '')), 'B') || "
        f"setweight(to_tsvector('simple'::regconfig, coalesce({col('prompt')}, '') || ' ' || "
        f"coalesce({col('data_category')}, '')), 'C'))"
    )


def pg_name_document(table: str) -> str:
    return f"to_tsvector('simple'::regconfig, coalesce(\"{table}\".\"external_id\", ''))"


FTS_TABLE = "training_example_fts"
FTS_COLUMNS = ("external_id", "tags", "prompt", "data_category")
FTS_WEIGHTS = (10.0, 3.0, 1.0, 1.0)  # bm25 weights of FTS_COLUMNS

_cols = ", ".join(FTS_COLUMNS)
_new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
_old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_cols}, content='training_trainingexample', "
    "content_rowid='rowid', tokenize='unicode61')",
    f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON training_trainingexample BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.rowid, {_new}); END",
    f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON training_trainingexample BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.rowid, {_old}); END",
    f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE ON training_trainingexample BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.rowid, {_old}); "
    f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.rowid, {_new}); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ai",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ad",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_au",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
