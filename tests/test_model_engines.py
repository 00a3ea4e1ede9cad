"""How a registered version is served: its CTranslate2 conversion is an artifact beside the weights (or,
when it fails, an event says why and transformers serves it), and int8 only after its metrics."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage

from core.roles import CURATORS, ML_STAFF
from slm.decode.interface import engine_info
from slm.decode.sampling import Generator
from slm.synthetic import generate_corpus
from slm.train.loop import train
from tests.shared_fixtures import TINY_MODEL, tiny_config, user_in_role
from training.models import Dataset, ModelEvaluation, SLMModel, TrainingRun, TrainingRunEvent
from training.services import evaluations
from training.services.registry import model_version_compute_type_set, model_version_register

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model, trained for a few steps (its designs do not matter here)."""
    corpus = list(generate_corpus(200, seed=3))
    config = tiny_config(
        model=replace(TINY_MODEL, n_layer=2),
        max_steps=10,
        checkpoint_every=0,
        warmup_steps=2,
        progress_every=10,
    )
    result = train(config, corpus[:180], corpus[180:], tmp_path_factory.mktemp("engines") / "run")
    assert result.final_dir is not None
    return result.final_dir


@pytest.fixture
def final_dir(weights: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "final"
    shutil.copytree(weights, copy, ignore=shutil.ignore_patterns("ct2*"))
    return copy


@pytest.fixture
def run() -> TrainingRun:
    dataset = Dataset.objects.create(name="engines", version=1, status="ready")
    return TrainingRun.objects.create(dataset=dataset, model_name="engines", status="running")


def _as_gpt_neo(model_dir: Path) -> None:
    """Replace the weights by a small GPT-Neo with the same tokenizer."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    from slm.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    for name in ("model.safetensors", "config.json", "generation_config.json"):
        (model_dir / name).unlink(missing_ok=True)
    config = GPTNeoConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        attention_types=[[["global", "local"], 1]],
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GPTNeoForCausalLM(config).save_pretrained(str(model_dir))


def _manifest(model: SLMModel) -> dict:
    with default_storage.open(f"{model.storage_path}/MANIFEST.json", "rb") as fh:
        return json.loads(fh.read())["files"]


@pytest.mark.slow
def test_registration_stores_the_conversion_beside_the_weights(run: TrainingRun, final_dir: Path) -> None:
    model = model_version_register(run=run, final_dir=final_dir, metrics={"val_loss": 1.0}, parameter_count=1)
    files = _manifest(model)
    assert {"model.safetensors", "ct2/model.bin", "ct2/vocabulary.json", "ct2/conversion.json"} <= set(files)
    assert not TrainingRunEvent.objects.filter(run=run, level="warning").exists()
    assert model.compute_type == "float32"


@pytest.mark.slow
def test_a_version_that_cannot_be_converted_is_served_by_transformers_with_an_event_saying_why(
    run: TrainingRun, final_dir: Path
) -> None:
    _as_gpt_neo(final_dir)  # an architecture transformers runs and CTranslate2 does not convert
    model = model_version_register(run=run, final_dir=final_dir, metrics={"val_loss": 1.0}, parameter_count=1)
    event = TrainingRunEvent.objects.get(run=run, level="warning")
    assert "could not be converted for CTranslate2" in event.message and "GPTNeoConfig" in event.message
    files = _manifest(model)
    assert "ct2-failed.json" in files and not any(name.startswith("ct2/") for name in files)
    generator = Generator(final_dir, num_threads=1)  # what a worker loads: transformers, and why
    assert generator.engine == "transformers" and "GPTNeoConfig" in (generator.fallback_reason or "")
    info = engine_info(generator)
    assert info["name"] == "transformers" and info["fallback_reason"] == generator.fallback_reason
    [[sample]] = generator.generate(["a red circle"], max_new_tokens=20)
    assert sample.tokens > 0


@pytest.fixture
def ml_staff(roles):
    user = user_in_role("mlops", ML_STAFF, is_staff=True)
    return user


def test_int8_only_after_its_metrics_are_stored_beside_float32s(ml_staff, roles, monkeypatch) -> None:
    model = SLMModel.objects.create(model_name="q", version=1, metrics={"adherence_rate": 0.98})
    with pytest.raises(ValidationError, match="Evaluate"):
        model_version_compute_type_set(model_version=model, compute_type="int8", user=ml_staff)
    curator = user_in_role("cur", CURATORS, is_staff=True)
    with pytest.raises(PermissionDenied):
        model_version_compute_type_set(model_version=model, compute_type="float32", user=curator)
    with pytest.raises(ValidationError):
        model_version_compute_type_set(model_version=model, compute_type="int4", user=ml_staff)

    # An int8 evaluation (its decoding really ran in int8) stores its metrics beside float32's.
    dataset = Dataset.objects.create(name="eval", version=1, status="ready")
    evaluation = ModelEvaluation.objects.create(
        model_version=model, dataset=dataset, compute_type="int8", status="running"
    )
    measured = {"adherence_rate": 0.97, "engine": "ctranslate2", "compute_type": "int8"}
    asked: dict = {}
    monkeypatch.setattr(evaluations, "local_model_dir", lambda **kwargs: Path())
    monkeypatch.setattr(
        evaluations, "evaluation_metrics", lambda **kwargs: asked.update(kwargs) or (measured, [])
    )
    evaluations.model_evaluation_execute(evaluation=evaluation)
    assert asked["compute_type"] == "int8"
    model.refresh_from_db()
    assert model.metrics["adherence_rate"] == 0.98 and model.metrics["int8"]["adherence_rate"] == 0.97
    served = model_version_compute_type_set(model_version=model, compute_type="int8", user=ml_staff)
    assert served.compute_type == "int8" and SLMModel.objects.get(pk=model.pk).compute_type == "int8"


@pytest.mark.slow
def test_versions_already_behind_an_alias_are_converted_by_the_command(final_dir: Path) -> None:
    """A version stored before conversions existed, already behind an alias: the command converts it
    (stored beside its weights, the row saved so that workers load it afresh); a second run is free."""
    from django.core.management import call_command

    from training.artifacts import artifacts_upload
    from training.models import ModelAlias

    prefix = artifacts_upload(local_dir=final_dir, prefix="models/legacy/1")
    model = SLMModel.objects.create(model_name="legacy", version=1, storage_path=prefix)
    ModelAlias.objects.create(name="production", model_version=model)
    SLMModel.objects.create(model_name="unaliased", version=1, storage_path=prefix + "-none")
    assert not any(name.startswith("ct2") for name in _manifest(model))
    before = model.updated_at
    call_command("convert_aliased_models")
    assert "ct2/model.bin" in _manifest(model)
    model.refresh_from_db()
    assert model.updated_at > before
    call_command("convert_aliased_models")
    assert SLMModel.objects.get(pk=model.pk).updated_at == model.updated_at  # nothing new to store
