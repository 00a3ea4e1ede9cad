"""The registry of job kinds: which actor runs which model, and the kind's hooks. Services enqueue a row
through here (`job_enqueue`), so they never import the actor that runs it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dramatiq
from django.db import transaction

from core.jobs.models import Job


@dataclass(frozen=True)
class JobKind:
    model: type[Job]
    actor: dramatiq.Actor
    select_related: tuple[str, ...] = ()
    # Called after every state change the framework writes (claim, finish, release, reap), inside its
    # transaction: for rows that mirror the job's status elsewhere.
    on_state: Callable[[Any], None] | None = None
    # Called with the row's id when a delivery finds the job already completed: a worker that died just
    # after completing may have left side effects (PNGs, say) to finish.
    if_completed: Callable[[Any], None] | None = None

    @property
    def name(self) -> str:
        return self.model._meta.model_name or self.model.__name__.lower()


_KINDS: dict[type[Job], JobKind] = {}


def register(kind: JobKind) -> None:
    _KINDS[kind.model] = kind


def kind_of(model: type[Job]) -> JobKind | None:
    return _KINDS.get(model)


def all_kinds() -> Iterator[JobKind]:
    yield from list(_KINDS.values())


def notify(job: Job) -> None:
    kind = _KINDS.get(type(job))
    if kind is not None and kind.on_state is not None:
        kind.on_state(job)


def job_enqueue(job: Job) -> None:
    """Send the row's message once the surrounding transaction commits: a worker must find the row."""
    kind = _KINDS.get(type(job))
    if kind is None:
        raise LookupError(f"no job actor is registered for {type(job).__name__}")
    pk = str(job.pk)
    transaction.on_commit(lambda: kind.actor.send(pk))
