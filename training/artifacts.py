"""Model artifacts in the configured storage (local media or S3), and a local cache for workers.

Upload writes every file first and the manifest last; a version without a manifest is incomplete.
Download verifies each file's sha256 and renames the finished folder into place, so a worker
killed mid-download never leaves a torn model behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

MANIFEST = "MANIFEST.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def artifacts_upload(*, local_dir: Path, prefix: str) -> str:
    """Copy a model folder to storage under `prefix`; returns the prefix. Manifest goes last."""
    prefix = prefix.strip("/")
    files = sorted(p for p in local_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {"files": {}}
    for path in files:
        rel = path.relative_to(local_dir).as_posix()
        name = f"{prefix}/{rel}"
        if default_storage.exists(name):
            default_storage.delete(name)
        with path.open("rb") as fh:
            saved = default_storage.save(name, File(fh, name=path.name))
        if saved != name:  # storage renamed it: refuse rather than point at the wrong file
            raise RuntimeError(f"storage saved {name} as {saved}")
        manifest["files"][rel] = {"sha256": _sha256(path), "size": path.stat().st_size}
    manifest_name = f"{prefix}/{MANIFEST}"
    if default_storage.exists(manifest_name):
        default_storage.delete(manifest_name)
    from django.core.files.base import ContentFile

    default_storage.save(manifest_name, ContentFile(json.dumps(manifest, indent=1).encode()))
    return prefix


def artifacts_delete(*, prefix: str, files: list[str]) -> None:
    """Remove what artifacts_upload may have written under `prefix` (these files and the manifest)."""
    for rel in [*files, MANIFEST]:
        name = f"{prefix.strip('/')}/{rel}"
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
        except OSError:
            continue


def cache_root() -> Path:
    return Path(settings.WORK_DIR) / "model-cache"


def local_model_dir(*, storage_path: str, cache_key: str) -> Path:
    """A local folder with the model's files, downloaded once per worker machine."""
    target = cache_root() / cache_key
    if (target / MANIFEST).exists():
        return target
    with default_storage.open(f"{storage_path}/{MANIFEST}", "rb") as fh:
        manifest = json.loads(fh.read())
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_key}-", dir=cache_root()))
    try:
        for rel, meta in manifest["files"].items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(f"{storage_path}/{rel}", "rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            if _sha256(dest) != meta["sha256"]:
                raise RuntimeError(f"artifact {rel} of {storage_path} does not match its manifest")
        (tmp / MANIFEST).write_text(json.dumps(manifest))
        try:
            tmp.rename(target)
        except OSError:
            if not (target / MANIFEST).exists():  # another thread won the race with a complete copy
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
