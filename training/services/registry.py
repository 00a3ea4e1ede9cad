"""The model registry: register a trained version (artifacts to storage), move and roll back aliases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from training.artifacts import artifacts_upload
from training.models import ModelAlias, ModelAliasEvent, SLMModel, TrainingRun, validate_alias_name


@transaction.atomic
def model_version_register(
    *,
    run: TrainingRun,
    final_dir: Path,
    metrics: dict[str, Any],
    parameter_count: int,
    gallery: list[dict[str, Any]] | None = None,
) -> SLMModel:
    """A new version in the registry, its artifacts copied to storage (manifest last)."""
    SLMModel.objects.select_for_update().filter(model_name=run.model_name).exists()
    version = (SLMModel.objects.filter(model_name=run.model_name).aggregate(v=Max("version"))["v"] or 0) + 1
    manifest_path = Path(final_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    model = SLMModel(
        model_name=run.model_name,
        version=version,
        architecture=run.base_model.architecture
        if run.base_model
        else run.training_params.get("arch", "gpt2"),
        model_config=_model_config(run, final_dir, manifest),
        trained_at=timezone.now(),
        last_fine_tuned=timezone.now() if run.base_model_id else None,
        base_model=run.base_model,
        training_strategy=SLMModel.Strategy.FINE_TUNE
        if run.base_model_id
        else SLMModel.Strategy.FROM_SCRATCH,
        dataset=run.dataset,
        metrics={k: v for k, v in metrics.items() if v is not None},
        gallery=gallery or [],
        parameter_count=parameter_count,
    )
    model.full_clean(exclude=["storage_path"])
    model.save()
    model.storage_path = artifacts_upload(
        local_dir=Path(final_dir), prefix=f"models/{model.model_name}/v{version}-{str(model.pk)[:8]}"
    )
    model.save(update_fields=["storage_path", "updated_at"])
    run.result_model = model
    run.save(update_fields=["result_model", "updated_at"])
    return model


def _model_config(run: TrainingRun, final_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Our own models: the ModelConfig they were built from; a fine-tune of an imported base model: the
    transformers config it was saved with."""
    if run.base_model and "hf_config" in (run.base_model.model_config or {}):
        return {"hf_config": json.loads((Path(final_dir) / "config.json").read_text())}
    return manifest.get("config", {}).get("model", {})


def may_move_production(user: Any) -> bool:
    return bool(user and getattr(user, "pk", None) and user.has_perm("training.move_production_alias"))


def model_alias_check(*, name: str, user: Any, exists: bool | None = None) -> None:
    """May `user` point the alias `name` at a version? ValidationError for a name that would read as a
    version (a UUID, `name:version`); PermissionDenied without the model permission for the move:
    training.add_modelalias to create an alias, training.change_modelalias to move one, and
    training.move_production_alias as well for `production` (ML staff hold all three; curators none)."""
    try:
        validate_alias_name(name)
    except ValidationError as exc:
        raise ValidationError({"alias": exc.messages}) from None
    if exists is None:
        exists = ModelAlias.objects.filter(name=name).exists()
    perm = "training.change_modelalias" if exists else "training.add_modelalias"
    if not (user and getattr(user, "pk", None) and user.has_perm(perm)):
        raise PermissionDenied(f"Only ML staff may {'move' if exists else 'create'} model aliases.")
    if name == "production" and not may_move_production(user):
        raise PermissionDenied("Only ML staff may move the production alias.")


@transaction.atomic
def model_alias_move(
    *, name: str, model_version: SLMModel, moved_by: Any = None, note: str = "", system: bool = False
) -> ModelAlias:
    """Point an alias at a version and keep the move in its history. The caller needs the permission
    for it (model_alias_check); `system` moves (the demo pipeline, a run nobody requested) skip that."""
    alias = ModelAlias.objects.select_for_update().filter(name=name).first()
    if not system:
        model_alias_check(name=name, user=moved_by, exists=alias is not None)
    who = moved_by if getattr(moved_by, "pk", None) else None
    previous = alias.model_version if alias else None
    if alias is None:
        alias = ModelAlias(name=name, model_version=model_version, updated_by=who)
        alias.full_clean()
        alias.save()
    elif previous == model_version:
        return alias
    else:
        alias.model_version, alias.updated_by = model_version, who
        alias.save(update_fields=["model_version", "updated_by", "updated_at"])
    ModelAliasEvent.objects.create(
        alias=alias, from_version=previous, to_version=model_version, moved_by=who, note=note[:500]
    )
    return alias


@transaction.atomic
def model_alias_rollback(*, alias: ModelAlias, moved_by: Any = None) -> ModelAlias:
    """Point the alias back at the version it had before its last move."""
    last = alias.events.order_by("-created_at").first()
    if last is None or last.from_version is None:
        raise ValidationError({"alias": f"{alias.name} has no earlier version to roll back to."})
    return model_alias_move(
        name=alias.name,
        model_version=last.from_version,
        moved_by=moved_by,
        note=f"Rollback from {last.to_version}",
    )
