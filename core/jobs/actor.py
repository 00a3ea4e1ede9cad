"""`@job_actor`: every kind of job is a few lines that call a service.

    @job_actor(TrainingRun, queue_name="training", time_limit=24 * 3600 * 1000)
    def train_model(run: TrainingRun) -> None:
        training_run_execute(run=run)

The message carries the row's id only. The decorator claims the row (a finished row, or one a live
worker holds, never reaches the body), beats its heartbeat while the body runs, and hands it back if the
body is interrupted or raises; the body ends the row itself (lifecycle.job_finish). Dramatiq re-delivers
an interrupted message within the same budget the claim counts (JOB_MAX_ATTEMPTS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import dramatiq
from django.conf import settings

from core.jobs.heartbeat import beating
from core.jobs.kinds import JobKind, kind_of, register
from core.jobs.lifecycle import job_claim, job_release
from core.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)
J = TypeVar("J", bound=Job)
R = TypeVar("R")


def job_run(
    model: type[J], pk: Any, work: Callable[[J], R], *, select_related: tuple[str, ...] = ()
) -> R | None:
    """Claim the row and run `work` on it in this thread, as a worker would; None when it was not
    claimed. Actors run through here, and so do commands and tests that run a job in-process."""
    kind = kind_of(model)
    related = select_related or (kind.select_related if kind else ())
    job = job_claim(model, pk, select_related=related)
    if job is None:
        repair = kind.if_completed if kind is not None else None
        if repair is not None and model.objects.filter(pk=pk, status=JobStatus.COMPLETED).exists():
            repair(pk)
        return None
    with beating(job):
        try:
            return work(job)
        except BaseException:
            try:  # a retry (or the reaper) runs it again, within the attempts budget
                job_release(job)
            except Exception:  # the original error matters more; the reaper hands the row back later
                log.exception("could not hand back %s %s", model.__name__, pk)
            raise


def job_actor(
    model: type[J],
    *,
    queue_name: str,
    time_limit: int,
    select_related: tuple[str, ...] = (),
    on_state: Callable[[J], None] | None = None,
    if_completed: Callable[[Any], None] | None = None,
    **options: Any,
) -> Callable[[Callable[[J], None]], dramatiq.Actor]:
    """Declare the actor for one job model (see the module docstring); `options` go to dramatiq.actor."""

    def decorate(body: Callable[[J], None]) -> dramatiq.Actor:
        def run(job_id: str) -> None:
            job_run(model, job_id, body)

        run.__name__ = run.__qualname__ = body.__name__
        run.__module__, run.__doc__ = body.__module__, body.__doc__
        actor = dramatiq.actor(
            run,
            queue_name=queue_name,
            time_limit=time_limit,
            max_retries=max(0, settings.JOB_MAX_ATTEMPTS - 1),
            **options,
        )
        register(JobKind(model, actor, select_related, on_state, if_completed))
        return actor

    return decorate
