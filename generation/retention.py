"""Retention: purge request logs, generation requests and designs past their configured ages.

Ages (days) come from settings.GENERATION_RETENTION_DAYS (config/settings.py sets every kind):
  error_details        blank error_message of failed requests and error_detail of logged calls
  request_logs         delete ApiRequest rows
  generation_requests  purge what was asked: prompt text, variables, metadata and input images
  designs              delete the request and its designs (OutputImage rows and files)
A request an app above this one protects (a design promoted into training data: feedback registers the
function that lists them) is never purged.
Apps above this one add their own kinds (register_purge: integrations purges old webhook events,
deliveries and attempts as "webhooks"); their ages live in the same setting.
`retention_purge()` is what a scheduler calls; `manage.py purge_expired` runs it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.jobs.models import JobStatus
from generation.models import ApiRequest, DesignOutput, InputImage, OutputImage, Prompt

log = logging.getLogger(__name__)

CHUNK = 500
# Each returns a queryset of Prompt ids that must be kept (registered by the apps that protect them).
ProtectedPrompts = Callable[[], QuerySet]
_protectors: list[ProtectedPrompts] = []
# A purge: rows older than `before` (or their count, on a dry run) -> how many.
Purge = Callable[..., int]
_extra_purges: dict[str, Purge] = {}


def register_purge(kind: str, purge: Purge) -> None:
    """Add a kind to retention_purge (its age: settings.GENERATION_RETENTION_DAYS[kind])."""
    _extra_purges[kind] = purge


def register_protected_prompts(source: ProtectedPrompts) -> None:
    if source not in _protectors:
        _protectors.append(source)


def retention_days() -> dict[str, int]:
    return dict(settings.GENERATION_RETENTION_DAYS)


def _unprotected(qs: QuerySet) -> QuerySet:
    for protected in _protectors:
        qs = qs.exclude(pk__in=protected())
    return qs


def _chunks(qs: QuerySet) -> Any:
    """Primary keys in chunks, re-queried each time so rows purged meanwhile drop out."""
    ids = list(qs.values_list("pk", flat=True)[:CHUNK])
    while ids:
        yield ids
        if len(ids) < CHUNK:
            return
        ids = list(qs.exclude(pk__in=ids).values_list("pk", flat=True)[:CHUNK])


def _delete_files(names: list[str]) -> None:
    for name in names:
        if name:
            with contextlib.suppress(Exception):
                default_storage.delete(name)


def purge_error_details(*, before: datetime, dry_run: bool = False) -> int:
    outputs = DesignOutput.objects.filter(status=JobStatus.FAILED, created_at__lt=before).exclude(
        error_message=""
    )
    logs = ApiRequest.objects.filter(request_time__lt=before).exclude(error_detail="")
    if dry_run:
        return outputs.count() + logs.count()
    with transaction.atomic():
        n = outputs.update(error_message="", updated_at=timezone.now())
        n += logs.update(error_detail="", updated_at=timezone.now())
    return n


def purge_request_logs(*, before: datetime, dry_run: bool = False) -> int:
    qs = ApiRequest.objects.filter(request_time__lt=before)
    if dry_run:
        return qs.count()
    n = 0
    for ids in _chunks(qs):
        n += ApiRequest.objects.filter(pk__in=ids).delete()[0]
    return n


def purge_generation_requests(*, before: datetime, dry_run: bool = False) -> int:
    """Forget what was asked (text, variables, metadata, input images); the designs stay until their age."""
    qs = _unprotected(Prompt.all_objects.filter(created_at__lt=before).exclude(metadata__has_key="purged_at"))
    if dry_run:
        return qs.count()
    n = 0
    now = timezone.now()
    for ids in _chunks(qs):
        with transaction.atomic():
            images = InputImage.objects.filter(prompt_id__in=ids)
            names = list(images.values_list("file", flat=True))
            images.delete()
            n += Prompt.all_objects.filter(pk__in=ids).update(
                text_content="",
                template_variables={},
                metadata={"purged_at": now.isoformat()},
                updated_at=now,
            )
            transaction.on_commit(lambda names=names: _delete_files(names))
    return n


def purge_designs(*, before: datetime, dry_run: bool = False) -> int:
    """Delete requests (prompt, design, output images and their files) older than `before`."""
    qs = _unprotected(Prompt.all_objects.filter(created_at__lt=before))
    if dry_run:
        return qs.count()
    n = 0
    for ids in _chunks(qs):
        with transaction.atomic():
            names = list(OutputImage.objects.filter(output__prompt_id__in=ids).values_list("file", flat=True))
            names += list(InputImage.objects.filter(prompt_id__in=ids).values_list("file", flat=True))
            n += DesignOutput.objects.filter(prompt_id__in=ids).count()
            Prompt.all_objects.filter(pk__in=ids).delete()  # cascades to outputs, images, feedback
            transaction.on_commit(lambda names=names: _delete_files(names))
    return n


def retention_purge(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Run every purge; returns counts per kind and logs each one."""
    now = now or timezone.now()
    days = retention_days()
    steps = (
        ("designs", purge_designs),
        ("generation_requests", purge_generation_requests),
        ("request_logs", purge_request_logs),
        ("error_details", purge_error_details),
        *_extra_purges.items(),
    )
    summary: dict[str, int] = {}
    for kind, purge in steps:
        before = now - timedelta(days=days[kind])
        summary[kind] = purge(before=before, dry_run=dry_run)
        log.info(
            "retention %s: %s %d row(s) older than %s (%d days)",
            kind,
            "would purge" if dry_run else "purged",
            summary[kind],
            before.date().isoformat(),
            days[kind],
        )
    log.info("retention summary%s: %s", " (dry run)" if dry_run else "", summary)
    return summary
