"""The model registry: register a trained version (artifacts to storage), move and roll back aliases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core import events
from slm.quality.verdict import learning_verdict
from training.artifacts import artifacts_upload
from training.errors import TrainingErrorCode
from training.models import ModelAlias, ModelAliasEvent, SLMModel, TrainingRun, TrainingRunEvent
from training.models.registry import ComputeType, validate_alias_name
from training.services.conversions import model_artifacts_convert, model_version_convert

PRODUCTION = "production"


@transaction.atomic
def model_version_register(
    *,
    run: TrainingRun,
    final_dir: Path,
    metrics: dict[str, Any],
    parameter_count: int,
    gallery: list[dict[str, Any]] | None = None,
) -> SLMModel:
    """A new version in the registry, its artifacts copied to storage (manifest last): the weights and
    their CTranslate2 conversion (slm.decode.ct2), or, when that fails, the reason, also a run event."""
    not_converted = model_artifacts_convert(final_dir=Path(final_dir))  # before any lock is taken
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
    if not_converted:
        TrainingRunEvent.objects.create(
            run=run,
            level=TrainingRunEvent.Level.WARNING,
            message=f"{model} could not be converted for CTranslate2 and will be served through "
            f"transformers: {not_converted}"[:5000],
            data={"ctranslate2": "not converted", "reason": not_converted},
        )
    summary = {"model_name": model.model_name, "version": model.version, "training_run_id": str(run.pk)}
    url = events.api_url("model-list")
    events.event_emit(type=events.MODEL_VERSION_REGISTERED, obj_id=model.pk, url=url, summary=summary)
    return model


@transaction.atomic
def model_version_compute_type_set(
    *, model_version: SLMModel, compute_type: str, user: Any = None
) -> SLMModel:
    """Serve a version in another CTranslate2 compute type. int8 only once an int8 evaluation stored its
    metrics (`metrics["int8"]`) beside float32's (the version's own metrics), so the loss of quality is
    known before anyone serves it. The caller needs ML staff's training.change_slmmodel."""
    if user is not None and not user.has_perm("training.change_slmmodel"):
        raise PermissionDenied("Only ML staff may change how a model version is served.")
    if compute_type not in ComputeType.values:
        raise ValidationError({"compute_type": f"Choose one of {', '.join(ComputeType.values)}."})
    model_version = SLMModel.objects.select_for_update().get(pk=model_version.pk)
    if compute_type != ComputeType.FLOAT32:
        measured = (model_version.metrics or {}).get(compute_type)
        if not measured or not _has_float32_metrics(model_version.metrics or {}):
            raise ValidationError(
                {
                    "compute_type": f"Evaluate {model_version} in {compute_type} first: its metrics must be "
                    "stored beside float32's before it is served that way."
                }
            )
    model_version.compute_type = compute_type
    model_version.full_clean()
    model_version.save(update_fields=["compute_type", "updated_at"])
    return model_version


def _has_float32_metrics(metrics: dict[str, Any]) -> bool:
    return any(k in metrics for k in ("adherence_rate", "valid_nonblank_rate", "validity_rate", "iou"))


def _model_config(run: TrainingRun, final_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Our own models: the ModelConfig they were built from; a fine-tune of an imported base model: the
    transformers config it was saved with. Either way, with how generation chooses the version's designs
    when not greedily (`decoding`)."""
    config = manifest.get("config", {})
    if run.base_model and "hf_config" in (run.base_model.model_config or {}):
        out: dict[str, Any] = {"hf_config": json.loads((Path(final_dir) / "config.json").read_text())}
    else:
        out = dict(config.get("model", {}))
    if config.get("consensus"):
        out["decoding"] = {
            "consensus": int(config["consensus"]),
            "temperature": float(config.get("consensus_temperature") or 1.0),
        }
    return out


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


def production_refusal(*, name: str, model_version: SLMModel) -> str:
    """Why `production` may not move to this version without an override ("" when it may): its verdict
    (slm.quality.verdict, the rule its run and version pages show) is "not learned"."""
    if name != PRODUCTION:
        return ""
    verdict = learning_verdict(model_version.metrics or {})
    if not verdict.not_learned:
        return ""
    return (
        f"{model_version} has not learned its data set, so production does not move to it. "
        f"{verdict.sentence} ML staff may override this with a reason."
    )


@transaction.atomic
def model_alias_move(
    *,
    name: str,
    model_version: SLMModel,
    moved_by: Any = None,
    note: str = "",
    system: bool = False,
    override_reason: str = "",
) -> ModelAlias:
    """Point an alias at a version and keep the move in its history. The caller needs the permission
    for it (model_alias_check); `system` moves (the demo pipeline, a run nobody requested) skip that.
    `production` never moves to a version whose verdict is "not learned" unless `override_reason` says
    why (ML staff: only they may move production); the reason is kept in the alias's history.
    A version stored without a CTranslate2 conversion is converted first (model_version_convert), so
    no user's request ever waits for one; one that cannot be is served through transformers."""
    if not system:
        model_alias_check(name=name, user=moved_by)  # before converting anything for a refused move
    refusal = production_refusal(name=name, model_version=model_version)
    reason = " ".join(override_reason.split())[:500]
    if refusal and not reason:
        raise ValidationError(
            {"override_reason": ValidationError(refusal, code=TrainingErrorCode.NOT_LEARNED)}
        )
    model_version_convert(model_version=model_version)  # before any lock is taken
    alias = ModelAlias.objects.select_for_update().filter(name=name).first()
    if not system:
        model_alias_check(name=name, user=moved_by, exists=alias is not None)
    who = moved_by if getattr(moved_by, "pk", None) else None
    previous = alias.model_version if alias else None
    if alias is not None and previous == model_version:
        return alias
    if alias is None:
        alias = ModelAlias(name=name, model_version=model_version, updated_by=who)
        alias.full_clean()
        alias.save()
    else:
        alias.model_version, alias.updated_by = model_version, who
        alias.save(update_fields=["model_version", "updated_by", "updated_at"])
    ModelAliasEvent.objects.create(
        alias=alias,
        from_version=previous,
        to_version=model_version,
        moved_by=who,
        note=note[:500],
        override_reason=reason if refusal else "",
    )
    summary = {
        "name": alias.name,
        "from": str(previous) if previous else None,
        "from_id": str(previous.pk) if previous else None,
        "to": str(model_version),
        "to_id": str(model_version.pk),
        "who": who.get_username() if who else "system",
        "why": (reason if refusal else "") or note[:500],
    }
    url = events.api_url("alias-move", name=alias.name)
    events.event_emit(type=events.ALIAS_MOVED, obj_id=alias.pk, url=url, summary=summary)
    return alias


@transaction.atomic
def model_alias_rollback(*, alias: ModelAlias, moved_by: Any = None, override_reason: str = "") -> ModelAlias:
    """Point the alias back at the version it had before its last move (production's gate applies)."""
    last = alias.events.order_by("-created_at").first()
    if last is None or last.from_version is None:
        raise ValidationError({"alias": f"{alias.name} has no earlier version to roll back to."})
    return model_alias_move(
        name=alias.name,
        model_version=last.from_version,
        moved_by=moved_by,
        note=f"Rollback from {last.to_version}",
        override_reason=override_reason,
    )
