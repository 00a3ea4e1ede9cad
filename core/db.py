"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import connection


def commit_without_flush() -> None:
    """Call inside a transaction: on PostgreSQL its commit returns without waiting for the WAL to reach
    the disk (`SET LOCAL synchronous_commit TO OFF`). Nothing is ever corrupted, but a crash of the
    database server may lose the last fraction of a second of such commits, so only writes the platform
    can lose use it: a job's claim (a lost claim leaves the job pending, and the reaper sends it again)
    and the request log row. On this VM's disk a flushed commit costs 4-5 ms, a quarter of a generation
    call. SQLite (WAL, synchronous=NORMAL) never waits for the disk at commit: nothing to do there.
    Only in the outermost transaction block: inside a caller's transaction the caller's writes would be
    relaxed too, so there it does nothing."""
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def unapplied_migrations() -> list[str]:
    """The migrations this database has not run yet ("app.name"): a command run before `migrate` (or
    `make run`) says so instead of failing on a missing table."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def require_migrated() -> None:
    """For a command that reads or writes rows: stop with what to run when the database is not migrated."""
    from django.core.management.base import CommandError

    missing = unapplied_migrations()
    if missing:
        raise CommandError(
            f"The database ({connection.settings_dict['NAME']}) has {len(missing)} migration(s) not applied "
            f"yet, first {missing[0]}: run `python manage.py migrate` (`make run` does) and try again."
        )
