"""Completing a generation request: its designs' SVGs stored and the row completed in one transaction,
files removed if it fails, nothing kept if the claim was lost meanwhile; this process's waiters are
handed what was committed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from auditlog.context import disable_auditlog
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.events import GENERATION_COMPLETED, api_url, event_emit
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from core.models import clean_new_row
from generation import events
from generation.models import DesignOutput, OutputImage
from generation.services.candidates import Design
from generation.services.jobs import PROMPT_DELETED, GenerationError, prompt_status_sync_alive

# What a completion commits, handed to this process's waiters (events.Finished) instead of a read back.
FINISHED_FIELDS = (
    "status",
    "generated_at",
    "design_metadata",
    "error_message",
    "processing_time_ms",
    "progress",
    "finished_at",
    "updated_at",
    "attempts",
    "heartbeat_at",
)


class _NotOurs(Exception):
    """The request was reaped or finished elsewhere while this claim stored it: roll back, keep nothing."""


def generation_complete(
    output: DesignOutput,
    designs: list[Design],
    metadata: dict[str, Any],
    *,
    postprocess_ms: Callable[[], int],
) -> bool:
    """Store the designs' SVGs and complete the request, in one transaction (files removed if it fails);
    False when the row was no longer ours. Worker job-state writes are not audited: the row keeps its
    own timings and metadata."""
    saved: list[str] = []
    old: list[str] = []
    try:
        with transaction.atomic(), disable_auditlog():
            # Deleted while it decoded? Then nothing is stored. The prompt's status is mirrored first, by
            # an update that skips a deleted prompt: its row stays locked until this commits, so a delete
            # now waits and hides what was stored with it (the prompt, then the request: as before).
            if not prompt_status_sync_alive(output, JobStatus.COMPLETED):
                raise GenerationError(PROMPT_DELETED)
            now = timezone.now()
            started = output.heartbeat_at or now  # set by this worker's claim
            metadata["timings_ms"] = {
                "queued": max(0, round((started - output.created_at).total_seconds() * 1000)),
                "decode_queued": metadata["batch"].get("queued_ms", 0),
                "generate": metadata["batch"].get("generate_ms", 0),
                "postprocess": postprocess_ms(),
            }
            # Only a row this claim still holds is completed: one reaped or finished elsewhere meanwhile
            # is left alone (and nothing else is written).
            completed = job_finish(
                output,
                JobStatus.COMPLETED,
                on_state=False,  # the prompt's status was mirrored above
                generated_at=now,
                design_metadata=metadata,
                error_message="",
                processing_time_ms=max(0, round((now - started).total_seconds() * 1000)),
            )
            if not completed:
                raise _NotOurs  # nothing of this claim's is kept: the prompt's mirror rolls back
            summary = {"designs": len(designs), "model_version_id": str(output.model_version_id or "")}
            url = api_url("generation-detail", pk=output.pk)
            event_emit(type=GENERATION_COMPLETED, obj_id=output.pk, url=url, summary=summary)
            if output.attempts > 1:  # a retried run replaces what a killed one left
                old = [image.file.name for image in OutputImage.objects.filter(output=output)]
                OutputImage.objects.filter(output=output).delete()
            images = []
            for seq, design in enumerate(designs):
                clean = design.styled.clean
                image = OutputImage(
                    output=output,
                    file_type=OutputImage.FileType.SVG,
                    file_size=0,
                    sequence_order=seq,
                    style_attributes={
                        "colours": list(clean.report.colours),
                        "element_counts": dict(clean.report.element_counts),
                        "content_hash": clean.content_hash,
                        "view_box": list(clean.view_box),
                        "style_applied": design.styled.applied,
                        "style_violations": design.compliance,
                        "sanitiser_removed": list(design.removals),
                        "candidate": design.candidate,
                        "tokens": design.tokens,
                    },
                )
                content = clean.svg.encode("utf-8")
                image.file_size = len(content)
                image.file.save("design.svg", ContentFile(content), save=False)
                saved.append(image.file.name)
                clean_new_row(image, trusted=("output",))
                images.append(image)
            OutputImage.objects.bulk_create(images)
            # Waiters in this process are handed what was committed (generation.selectors.generation_apply).
            finished = events.Finished(
                fields={name: getattr(output, name) for name in FINISHED_FIELDS}, images=tuple(images)
            )
            transaction.on_commit(lambda: events.output_finished(output.pk, finished))
    except _NotOurs:
        return False
    except BaseException:
        for name in saved:
            with contextlib.suppress(Exception):
                default_storage.delete(name)
        raise
    for name in old:
        with contextlib.suppress(Exception):
            default_storage.delete(name)
    return True
