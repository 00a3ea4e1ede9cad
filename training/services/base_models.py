"""Imported base models: a Hugging Face-format causal LM folder (config, safetensors weights, its own
tokenizer) from a local folder, a ZIP of one, or object storage, registered as a model version with the
training strategy `pretrained`, ready to fine-tune (fully or with LoRA) on a snapshot.

Everything is checked on a staged copy before anything is stored (slm.base.check_base_model);
each failure is a ValidationError saying why, and nothing is registered. The row and its artifacts are
written in one transaction: artifacts that were uploaded before a failure are deleted again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from slm.base import BaseModelError, check_base_model
from training.artifacts import artifacts_delete, artifacts_upload
from training.models import SLMModel

log = logging.getLogger(__name__)
STORAGE_PREFIX = "storage:"  # `storage:models/incoming/tiny-llama`: a folder in the configured storage
ZIP_MAX_BYTES = 64 * 1024**3  # uncompressed; a ZIP that claims more is refused before extracting


def base_model_import(*, source: str | Path | Any, name: str, imported_by: Any = None) -> SLMModel:
    """Check and register a base model. `source`: a local folder, a local .zip, `storage:PREFIX`, or an
    uploaded ZIP file (the admin's). ValidationError({"source": reason}) when it cannot be used."""
    staging = Path(tempfile.mkdtemp(prefix="base-import-", dir=_staging_root()))
    try:
        folder = _stage(source, staging)
        try:
            check = check_base_model(folder)
        except BaseModelError as exc:
            raise ValidationError({"source": str(exc)}) from None
        return _register(folder=folder, check=check, name=name, source=_describe(source), by=imported_by)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@transaction.atomic
def _register(*, folder: Path, check: Any, name: str, source: str, by: Any) -> SLMModel:
    SLMModel.objects.select_for_update().filter(model_name=name).exists()
    version = (SLMModel.objects.filter(model_name=name).aggregate(v=Max("version"))["v"] or 0) + 1
    who = getattr(by, "username", "") or "the command line"
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


def _staging_root() -> Path:
    root = Path(settings.WORK_DIR) / "base-imports"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _describe(source: Any) -> str:
    return str(getattr(source, "name", None) or source)


def _stage(source: Any, staging: Path) -> Path:
    """A local copy of the model folder to check (and register): the source itself is never changed."""
    target = staging / "model"
    if hasattr(source, "read"):  # an uploaded file
        archive = staging / "upload.zip"
        with archive.open("wb") as out:
            for chunk in (
                source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(1 << 20), b"")
            ):
                out.write(chunk)
        return _unzip(archive, target)
    text = str(source)
    if text.startswith(STORAGE_PREFIX):
        return _from_storage(text[len(STORAGE_PREFIX) :].strip("/"), target)
    path = Path(text)
    if path.is_dir():
        shutil.copytree(path, target)
        return target
    if path.is_file() and zipfile.is_zipfile(path):
        return _unzip(path, target)
    raise ValidationError({"source": f"{text} is neither a folder, a ZIP file nor {STORAGE_PREFIX}PREFIX."})


def _unzip(archive: Path, target: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > ZIP_MAX_BYTES:
                raise ValidationError({"source": "The ZIP unpacks to more than 64 GiB."})
            for m in members:
                rel = PurePosixPath(m.filename)
                if rel.is_absolute() or ".." in rel.parts or m.filename.startswith(("/", "\\")):
                    raise ValidationError(
                        {"source": f"The ZIP holds a path outside its folder: {m.filename}"}
                    )
                if rel.parts and rel.parts[0] == "__MACOSX":
                    continue
                dest = target.joinpath(*rel.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except zipfile.BadZipFile as exc:
        raise ValidationError({"source": f"Not a readable ZIP file: {exc}."}) from None
    if not target.is_dir():
        raise ValidationError({"source": "The ZIP is empty."})
    # A ZIP of a folder (`tiny-llama/config.json …`): the folder is the model.
    entries = list(target.iterdir())
    if not (target / "config.json").exists() and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def _from_storage(prefix: str, target: Path) -> Path:
    """Every file under `prefix` in the configured storage (S3 or local media), copied down."""
    count = 0

    def walk(rel: str) -> None:
        nonlocal count
        dirs, files = default_storage.listdir(f"{prefix}/{rel}".rstrip("/"))
        for name in files:
            dest = target / rel / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(f"{prefix}/{rel}{name}", "rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            count += 1
        for d in dirs:
            walk(f"{rel}{d}/")

    try:
        walk("")
    except (FileNotFoundError, OSError) as exc:
        raise ValidationError({"source": f"Nothing can be read under {prefix} in storage: {exc}."}) from None
    if not count:
        raise ValidationError({"source": f"There are no files under {prefix} in storage."})
    return target
