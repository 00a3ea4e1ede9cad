"""The generation job's own state rules, on top of core.jobs: its prompt mirrors its status, and a failure
says what a client may read (a masked message for internal errors) and wakes this process's waiters."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from generation import events
from generation.models import DesignOutput, Prompt

MASKED_ERROR = "Generation failed because of an internal error. Please try again later."
PROMPT_DELETED = "The prompt was deleted before its designs were stored, so nothing was kept."


class GenerationError(Exception):
    """An expected failure whose message is safe to show to the client; `details` go to its metadata."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def prompt_status_sync(output: DesignOutput) -> None:
    """core.jobs calls this after each state change of a request: its prompt shows the same status."""
    Prompt.all_objects.filter(pk=output.prompt_id).update(status=output.status)


def prompt_status_sync_alive(output: DesignOutput, status: str) -> bool:
    """Mirror `status` onto the request's prompt unless the prompt was deleted; False (nothing written)
    when it was. Inside a transaction the prompt's row stays locked until the commit, so a delete made
    meanwhile waits, and one made before is seen: one statement is both the check and the mirror."""
    return bool(Prompt.all_objects.filter(pk=output.prompt_id, deleted_at__isnull=True).update(status=status))


def generation_fail(output: DesignOutput, message: str, **extra: Any) -> None:
    """Fail a claimed request with a client-facing message; `extra` goes into its metadata."""
    now = timezone.now()
    started = output.heartbeat_at or now  # this claim's own start
    failed = job_finish(
        output,
        JobStatus.FAILED,
        error=message,
        design_metadata={**(output.design_metadata or {}), **extra, "failed_at": now.isoformat()},
        processing_time_ms=max(0, round((now - started).total_seconds() * 1000)),
    )
    if failed:
        pk = output.pk
        transaction.on_commit(lambda: events.output_finished(pk))
