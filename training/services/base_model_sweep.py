"""What an interrupted base-model import (or model registration) leaves behind, removed once it is older
than BASE_MODEL_SWEEP_AFTER_HOURS: staging folders under WORK_DIR, stored uploads no waiting import reads,
and artifact prefixes under `models/` that no model version points to. A worker killed outright (kill -9,
a lost machine) never reaches its own cleanup; this runs periodically in every worker
(core.jobs.periodic) and as `manage.py sweep_base_imports`."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from core.jobs.models import ACTIVE
from training.models import BaseModelImport, SLMModel
from training.services.base_model_sources import STAGING, UPLOADS

log = logging.getLogger(__name__)


def base_model_sweep(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Remove leftovers older than `older_than` (the setting by default); counts of what went."""
    age = older_than if older_than is not None else timedelta(hours=settings.BASE_MODEL_SWEEP_AFTER_HOURS)
    cutoff = timezone.now() - age
    return {
        "staging": _sweep_staging(cutoff),
        "uploads": _sweep_uploads(cutoff),
        "prefixes": _sweep_prefixes(cutoff),
    }


def _sweep_staging(cutoff: datetime) -> int:
    root = Path(settings.WORK_DIR) / STAGING
    if not root.is_dir():
        return 0
    running = {
        str(pk) for pk in BaseModelImport.objects.filter(status__in=ACTIVE).values_list("pk", flat=True)
    }
    removed = 0
    for folder in root.iterdir():
        if folder.name[:36] in running:  # its import's own staging (named by the job's id)
            continue
        newest = max([folder.lstat().st_mtime, *(p.lstat().st_mtime for p in folder.rglob("*"))])
        if newest < cutoff.timestamp():
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
            removed += 1
    return removed


def _sweep_uploads(cutoff: datetime) -> int:
    waiting = set(
        BaseModelImport.objects.filter(status__in=ACTIVE, stored_upload=True).values_list("source", flat=True)
    )
    removed = 0
    for name in _files(UPLOADS):
        if name not in waiting and _older(name, cutoff):
            default_storage.delete(name)
            removed += 1
    return removed


def _sweep_prefixes(cutoff: datetime) -> int:
    kept = {
        p.strip("/") for p in SLMModel.objects.exclude(storage_path="").values_list("storage_path", flat=True)
    }
    removed = 0
    try:
        names = default_storage.listdir("models")[0]
    except (FileNotFoundError, OSError):
        return 0
    for name in names:
        for version in default_storage.listdir(f"models/{name}")[0]:
            prefix = f"models/{name}/{version}"
            if prefix in kept:
                continue
            files = _files(prefix)
            if files and all(_older(f, cutoff) for f in files):
                for f in files:
                    default_storage.delete(f)
                log.warning("removed %d orphaned artifact file(s) under %s", len(files), prefix)
                removed += 1
    return removed


def _files(prefix: str) -> list[str]:
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, OSError):
        return []
    out = [f"{prefix}/{f}" for f in files]
    for d in dirs:
        out += _files(f"{prefix}/{d}")
    return out


def _older(name: str, cutoff: datetime) -> bool:
    try:
        return default_storage.get_modified_time(name) < cutoff
    except (NotImplementedError, OSError):
        return False
