"""Model artifacts in the configured storage (local media or S3), and a local cache for workers.

Upload writes every file first and the manifest last; a version without a manifest is incomplete.
Download verifies each file's sha256 and renames the finished folder into place, so a worker
killed mid-download never leaves a torn model behind. An external version has no artifacts: it is
reached through its endpoint's client (external_generator).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from slm.external import ExternalGenerator, Recipe
from training.external_keys import api_key_decrypt

if TYPE_CHECKING:
    from training.models import SLMModel

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


def storage_manifest(*, storage_path: str) -> dict[str, dict]:
    """The files a stored version lists (relative name -> sha256, size)."""
    with default_storage.open(f"{storage_path}/{MANIFEST}", "rb") as fh:
        return json.loads(fh.read())["files"]


def local_model_dir(*, storage_path: str, cache_key: str, refresh: bool = False) -> Path:
    """A local folder with the model's files, downloaded once per worker machine. `refresh`: also fetch
    what was stored beside the weights since (a CTranslate2 conversion made after registration)."""
    target = cache_root() / cache_key
    if (target / MANIFEST).exists():
        if refresh:
            _fetch_missing(target, storage_path)
        return target
    manifest = {"files": storage_manifest(storage_path=storage_path)}
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_key}-", dir=cache_root()))
    try:
        _download(manifest["files"], storage_path, tmp)
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


def _download(files: dict[str, dict], storage_path: str, into: Path) -> None:
    for rel, meta in files.items():
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(f"{storage_path}/{rel}", "rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        if _sha256(dest) != meta["sha256"]:
            raise RuntimeError(f"artifact {rel} of {storage_path} does not match its manifest")


def _fetch_missing(target: Path, storage_path: str) -> None:
    """Files the stored manifest lists and the local copy lacks: downloaded beside it, each top-level
    entry (a file, or a folder such as `ct2/`) renamed into place whole, the local manifest last."""
    local = json.loads((target / MANIFEST).read_text())
    stored = storage_manifest(storage_path=storage_path)
    missing = {rel: meta for rel, meta in stored.items() if rel not in local["files"]}
    if not missing:
        return
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=cache_root()))
    try:
        _download(missing, storage_path, tmp)
        for top in sorted({rel.split("/")[0] for rel in missing}):
            if not (target / top).exists():  # another process may have put it there already
                (tmp / top).rename(target / top)
        local["files"].update(missing)
        (target / MANIFEST).write_text(json.dumps(local))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def artifacts_upload_new(*, local_dir: Path, prefix: str) -> list[str]:
    """Upload the files of `local_dir` that the stored manifest does not list yet (what a conversion
    added beside the weights), then the manifest with them; the names uploaded."""
    prefix = prefix.strip("/")
    files = storage_manifest(storage_path=prefix)
    new = sorted(
        p.relative_to(local_dir).as_posix()
        for p in local_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST and p.relative_to(local_dir).as_posix() not in files
    )
    for rel in new:
        name = f"{prefix}/{rel}"
        if default_storage.exists(name):
            default_storage.delete(name)
        with (local_dir / rel).open("rb") as fh:
            saved = default_storage.save(name, File(fh, name=Path(rel).name))
        if saved != name:
            raise RuntimeError(f"storage saved {name} as {saved}")
        files[rel] = {"sha256": _sha256(local_dir / rel), "size": (local_dir / rel).stat().st_size}
    if new:
        from django.core.files.base import ContentFile

        manifest_name = f"{prefix}/{MANIFEST}"
        default_storage.delete(manifest_name)
        default_storage.save(manifest_name, ContentFile(json.dumps({"files": files}, indent=1).encode()))
    return new


def external_generator(model: SLMModel) -> ExternalGenerator:
    """The client for an external version, with the configured timeout, retries and concurrency."""
    if not model.is_external or not model.endpoint_url:
        raise LookupError(f"model version {model} is not an external version")
    return ExternalGenerator(
        base_url=model.endpoint_url,
        model=model.external_model,
        api_key=api_key_decrypt(model.api_key_encrypted),
        recipe=Recipe.from_dict(model.prompt_recipe),
        timeout=settings.EXTERNAL_TIMEOUT_SECONDS,
        max_retries=settings.EXTERNAL_MAX_RETRIES,
        max_concurrency=settings.EXTERNAL_MAX_CONCURRENCY,
    )
