"""Where a base model comes from, copied into a staging folder within the import limits: a local folder,
a local ZIP, a stored upload (a ZIP the admin received), or `storage:PREFIX` in the configured storage.
Names, counts and sizes are checked (slm.base_files) before anything is copied or unpacked."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from slm.base_errors import BaseModelError
from slm.base_files import ImportLimits, check_names, check_sizes, copy_folder, unzip_model

STORAGE_PREFIX = "storage:"  # `storage:models/incoming/tiny-llama`: a folder in the configured storage
STAGING = "base-imports"  # under WORK_DIR: one folder per running import, removed when it ends
UPLOADS = "base-imports/uploads"  # in storage: uploads waiting for their import


def import_limits() -> ImportLimits:
    return ImportLimits(
        max_parameters=settings.BASE_MODEL_MAX_PARAMETERS,
        max_bytes=settings.BASE_MODEL_MAX_BYTES,
        max_members=settings.BASE_MODEL_MAX_FILES,
    )


def staging_root() -> Path:
    root = Path(settings.WORK_DIR) / STAGING
    root.mkdir(parents=True, exist_ok=True)
    return root


def stage(*, source: str, stored_upload: bool, staging: Path) -> Path:
    """A checked local copy of the model folder: the source itself is never changed."""
    limits = import_limits()
    target = staging / "model"
    if stored_upload:
        size = default_storage.size(source)
        if size > limits.max_bytes:
            raise BaseModelError(f"The upload is larger than the size limit ({limits.max_bytes:,} bytes).")
        archive = staging / "upload.zip"
        with default_storage.open(source, "rb") as src, archive.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        return unzip_model(archive, target, limits)
    if source.startswith(STORAGE_PREFIX):
        return _from_storage(source[len(STORAGE_PREFIX) :].strip("/"), target, limits)
    path = Path(source)
    if path.is_dir() and not path.is_symlink():
        return copy_folder(path, target, limits)
    if path.is_file() and zipfile.is_zipfile(path):
        return unzip_model(path, target, limits)
    raise BaseModelError(f"{source} is neither a folder, a ZIP file nor {STORAGE_PREFIX}PREFIX.")


def _from_storage(prefix: str, target: Path, limits: ImportLimits) -> Path:
    """Every file under `prefix` in the configured storage (S3 or local media), listed and checked, then
    copied down."""
    names: list[str] = []

    def walk(rel: str) -> None:
        dirs, files = default_storage.listdir(f"{prefix}/{rel}".rstrip("/"))
        names.extend(f"{rel}{name}" for name in files)
        if len(names) > limits.max_members:
            return
        for d in dirs:
            walk(f"{rel}{d}/")

    try:
        walk("")
    except (FileNotFoundError, OSError) as exc:
        raise BaseModelError(f"Nothing can be read under {prefix} in storage: {exc}.") from None
    if not names:
        raise BaseModelError(f"There are no files under {prefix} in storage.")
    check_sizes(count=len(names), total=0, limits=limits, free=None)
    check_names(names)
    sizes = {name: default_storage.size(f"{prefix}/{name}") for name in names}
    target.mkdir(parents=True, exist_ok=True)
    check_sizes(
        count=len(names), total=sum(sizes.values()), limits=limits, free=shutil.disk_usage(target).free
    )
    for name in names:
        with default_storage.open(f"{prefix}/{name}", "rb") as src, (target / name).open("xb") as out:
            written = 0
            for chunk in iter(lambda: src.read(1 << 20), b""):
                written += len(chunk)
                if written > sizes[name]:
                    raise BaseModelError(f"{name} grew while it was copied: refused.")
                out.write(chunk)
    return target
