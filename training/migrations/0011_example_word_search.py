"""Word search over examples: a GIN index on PostgreSQL, an FTS5 table and its triggers on SQLite."""

from django.db import migrations

from training import search_sql


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {search_sql.PG_INDEX_NAME} ON training_trainingexample "
            f"USING gin ({search_sql.pg_document()})"
        )
    elif vendor == "sqlite":
        for statement in search_sql.SQLITE_CREATE:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {search_sql.PG_INDEX_NAME}")
    elif vendor == "sqlite":
        for statement in search_sql.SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("training", "0010_example_fingerprints")]
    operations = [migrations.RunPython(forwards, backwards)]
