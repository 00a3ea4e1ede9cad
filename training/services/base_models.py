"""Imported base models: a Hugging Face-format causal LM folder (config, safetensors weights, its own
tokenizer) from a local folder, a ZIP of one, an uploaded ZIP, or object storage, registered as a model
version with the training strategy `pretrained`, ready to fine-tune (fully or with LoRA) on a snapshot.

An import is a job (BaseModelImport, run by training.tasks.import_base_model): the admin stores the upload
and returns; a worker stages a checked copy (base_model_sources: names, counts, sizes, free disk), checks
it (slm.base.check_base_model: no custom code, the architecture on the meta device against the
safetensors headers, then the weights and tokenizer) and registers it. Each refusal ends the job failed
with its reason, and nothing is registered. The row and its artifacts are written in one transaction:
artifacts uploaded before a failure are deleted again; a killed worker's leftovers are swept
(base_model_sweep).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.jobs.actor import job_run
from core.jobs.kinds import job_enqueue
from core.jobs.lifecycle import job_finish
from core.jobs.models import JobStatus
from slm.base import BaseModelError, check_base_model
from training.artifacts import artifacts_delete, artifacts_upload
from training.models import BaseModelImport, SLMModel
from training.services.base_model_sources import UPLOADS, import_limits, stage, staging_root

log = logging.getLogger(__name__)


@transaction.atomic
def base_model_import_create(
    *, source: str | Path | Any, name: str, imported_by: Any = None, enqueue: bool = True
) -> BaseModelImport:
    """Record an import; an uploaded file (the admin's) is kept in storage first. With enqueue, a worker
    runs it after commit. ValidationError for a name that is not a slug or an upload over the size cap."""
    stored = hasattr(source, "read")
    job = BaseModelImport(
        model_name=name,
        source_name=str(getattr(source, "name", None) or source)[:500],
        stored_upload=stored,
        created_by=imported_by if getattr(imported_by, "pk", None) else None,
        source="-",
    )
    try:
        job.full_clean()
    except ValidationError as exc:
        raise ValidationError({"name" if k == "model_name" else k: v for k, v in exc.message_dict.items()})
    if stored:
        limit = import_limits().max_bytes
        if (getattr(source, "size", 0) or 0) > limit:
            raise ValidationError({"source": f"The upload is larger than the size limit ({limit:,} bytes)."})
        key = f"{UPLOADS}/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}.zip"
        job.source = default_storage.save(key, source)
    else:
        job.source = str(source)
    job.save()
    if enqueue:
        job_enqueue(job)
    return job


def base_model_import_run(*, import_id: Any) -> BaseModelImport:
    """Claim an import and run it to its end in this process (the command line); the row as it ended."""
    job_run(BaseModelImport, import_id, lambda job: base_model_import_execute(job=job))
    return BaseModelImport.objects.select_related("result_model").get(pk=import_id)


def base_model_import(*, source: str | Path | Any, name: str, imported_by: Any = None) -> SLMModel:
    """Check and register a base model now, in this process. ValidationError({"source": reason}) when it
    cannot be used."""
    job = base_model_import_create(source=source, name=name, imported_by=imported_by, enqueue=False)
    job = base_model_import_run(import_id=job.pk)
    if job.status != JobStatus.COMPLETED or job.result_model is None:
        raise ValidationError({"source": job.error_message or f"The import ended {job.status}."})
    return job.result_model


def base_model_import_execute(*, job: BaseModelImport) -> None:
    """Run a claimed import; always ends it completed or failed (with its reason)."""
    staging = Path(tempfile.mkdtemp(prefix=f"{job.pk}-", dir=staging_root()))
    try:
        _step(job, "unpacking and checking the files", 0.1)
        folder = stage(source=job.source, stored_upload=job.stored_upload, staging=staging)
        _step(job, "checking the architecture, weights and tokenizer", 0.3)
        check = check_base_model(folder, import_limits())
        _step(job, "storing the artifacts", 0.7)
        model = _register(folder=folder, check=check, name=job.model_name, job=job)
    except (BaseModelError, ValidationError) as exc:
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        job_finish(job, JobStatus.FAILED, error=reason, step="refused")
        return
    except Exception as exc:  # the row must never stay `running`
        log.exception("base-model import %s failed", job.pk)
        job_finish(job, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}", step="failed")
        return
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if job.stored_upload:
            _delete_upload(job.source)
    job_finish(job, JobStatus.COMPLETED, step="registered", result_model=model)


def _step(job: BaseModelImport, words: str, progress: float) -> None:
    job.step, job.progress = words, progress
    BaseModelImport.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        step=words, progress=progress, updated_at=timezone.now()
    )


def _delete_upload(key: str) -> None:
    try:
        default_storage.delete(key)
    except OSError:  # the sweeper removes it later
        log.warning("could not delete the upload %s", key, exc_info=True)


@transaction.atomic
def _register(*, folder: Path, check: Any, name: str, job: BaseModelImport) -> SLMModel:
    SLMModel.objects.select_for_update().filter(model_name=name).exists()
    version = (SLMModel.objects.filter(model_name=name).aggregate(v=Max("version"))["v"] or 0) + 1
    who = getattr(job.created_by, "username", "") or "the command line"
    source = job.source_name
    model = SLMModel(
        model_name=name,
        version=version,
        architecture=check.architecture[:60],
        training_strategy=SLMModel.Strategy.PRETRAINED,
        model_config={"hf_config": check.config, "source": source, "files": check.files},
        parameter_count=check.parameters,
        notes=f"Imported from {source} by {who}: {check.architecture}, {check.parameters:,} parameters, "
        f"tokenizer of {check.vocab_size:,} tokens. Fine-tune it on a snapshot (full or LoRA) to get a "
        "model that writes designs.",
    )
    try:
        model.full_clean(exclude=["storage_path"])
    except ValidationError as exc:
        raise ValidationError({"name" if k == "model_name" else k: v for k, v in exc.message_dict.items()})
    model.save()
    prefix = f"models/{name}/v{version}-{str(model.pk)[:8]}"
    try:
        model.storage_path = artifacts_upload(local_dir=folder, prefix=prefix)
        model.save(update_fields=["storage_path", "updated_at"])
    except BaseException:
        artifacts_delete(prefix=prefix, files=list(check.files))  # the row goes with the transaction
        raise
    return model
