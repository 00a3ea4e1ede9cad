"""CTranslate2 conversions of registered versions: made when a version is registered (from its folder,
before upload) or when an alias moves to a version stored without one (registered before conversions
existed, or an imported base model), never on a user's request. The converted model (`ct2/`), or the
reason it could not be converted (`ct2-failed.json`), is stored beside the weights; generation's workers
pick it up the next time they load the version, and serve it through transformers until then."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.core.files.storage import default_storage

from training.artifacts import artifacts_upload_new, local_model_dir, storage_manifest
from training.models import SLMModel

log = logging.getLogger(__name__)
CONVERTED = "ct2/model.bin"
FAILED = "ct2-failed.json"


def model_artifacts_convert(*, final_dir: Path) -> str | None:
    """Convert a model folder for CTranslate2 (into `ct2/` beside the weights, uploaded with them); the
    reason when it cannot be (then `ct2-failed.json` says so beside the weights, and the version is
    served through transformers). Converting a folder that already was is free."""
    from slm.decode.ct2 import ConversionError, convert

    try:
        convert(final_dir)
    except ConversionError as exc:
        return str(exc)
    return None


def model_version_convert(*, model_version: SLMModel) -> str | None:
    """Make sure a stored version has its conversion (or the reason it has none) beside its weights:
    download it, convert, upload what the conversion wrote, and save the row so that workers load it
    afresh. The reason when it cannot be converted; None once it is. Free when it already was (or
    failed with this CTranslate2)."""
    if not model_version.storage_path:
        return None  # nothing stored to convert
    try:
        return _convert_stored(model_version)
    except Exception as exc:  # noqa: BLE001 - a move never fails for it: transformers serves the version
        log.exception("%s could not be converted for CTranslate2", model_version)
        return f"{type(exc).__name__}: {exc}"


def _convert_stored(model_version: SLMModel) -> str | None:
    stored = storage_manifest(storage_path=model_version.storage_path)
    if CONVERTED in stored:
        return None
    if FAILED in stored:
        reason = _stored_failure(model_version.storage_path)
        if reason is not None:
            return reason
    model_dir = local_model_dir(
        storage_path=model_version.storage_path, cache_key=str(model_version.pk), refresh=True
    )
    reason = model_artifacts_convert(final_dir=model_dir)
    if artifacts_upload_new(local_dir=model_dir, prefix=model_version.storage_path):
        model_version.save(update_fields=["updated_at"])
    if reason:
        log.warning(
            "%s is served by transformers, CTranslate2 could not convert it: %s", model_version, reason
        )
    return reason


def _stored_failure(storage_path: str) -> str | None:
    """The stored failure's reason, if it was with this CTranslate2 version (a newer one tries again)."""
    import ctranslate2

    with default_storage.open(f"{storage_path}/{FAILED}", "rb") as fh:
        info = json.loads(fh.read())
    if info.get("ctranslate2") != ctranslate2.__version__:
        return None
    return str(info.get("reason") or "unknown reason")
