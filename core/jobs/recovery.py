"""Re-sending what was lost: messages a broker dropped, and jobs whose worker died (each worker process
runs this every few seconds: core.jobs.middleware). Several may run at once: the claim makes a second
delivery harmless."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from core.jobs.kinds import all_kinds
from core.jobs.lifecycle import claim_ttl, job_reap, pending_ids

log = logging.getLogger(__name__)

# A pending row nobody touched for this long lost its message (a broker that lost its queue).
PENDING_LOST_AFTER = timedelta(minutes=10)


def resend_lost_jobs(*, everything: bool) -> dict[str, int]:
    """Per job kind, hand back the rows dead workers left running and send them again, with the pending
    rows whose message was lost: every pending row when `everything` (the in-process broker lost all its
    messages on restart), else those untouched for PENDING_LOST_AFTER."""
    counts: dict[str, int] = {}
    for kind in all_kinds():
        reaped = job_reap(kind.model, older_than=None if everything else claim_ttl())
        since = None if everything else timezone.now() - PENDING_LOST_AFTER
        ids = list(dict.fromkeys([*reaped.requeued, *pending_ids(kind.model, untouched_since=since)]))
        for pk in ids:
            kind.actor.send(pk)
        counts[kind.name] = len(ids)
        if ids or reaped.failed:
            log.warning(
                "%s: re-sent %d lost job(s), failed %d out of attempts",
                kind.name,
                len(ids),
                len(reaped.failed),
            )
    return counts
