"""An imported base model fine-tuned with LoRA through the training service, registered, and generating
through the API on the real engine (no fake generator)."""

from __future__ import annotations

import pytest

from generation import engine
from generation.models import DesignOutput
from tests.api.conftest import run_jobs
from tests.base_model import make_tiny_base
from tests.factories import synthetic_snapshot
from training.models import SLMModel
from training.services.base_models import base_model_import
from training.services.runs import training_run_create, training_run_run

pytestmark = pytest.mark.django_db


def test_import_lora_fine_tune_register_and_generate_through_the_api(
    api, tmp_path, settings, monkeypatch
) -> None:
    settings.GENERATION_DECODE_PROCESS = False
    # The run's quality evaluation (tested with the runs) decodes every test and training prompt to the end
    # of the context for a model this untrained: a minute here, for nothing this test checks.
    from training.services import run_outcome

    monkeypatch.setattr(run_outcome, "evaluation_metrics", lambda **kw: ({"eval_prompts": 0}, []))
    base = base_model_import(source=make_tiny_base(tmp_path / "tiny-llama"), name="tiny-llama")
    dataset = synthetic_snapshot(name="icons")
    params = {
        "finetune": "lora",
        "lora_rank": 4,
        "lora_alpha": 8,
        "max_steps": 6,
        "budget_seconds": 0,
        "batch_size": 8,
        "checkpoint_every": 3,
        "warmup_steps": 1,
        "num_threads": 1,
        "select_by": "val_loss",
    }
    run = training_run_create(
        dataset=dataset, base_model=base, params=params, model_name="tiny-llama-svg", enqueue=False
    )
    assert run.training_type == "fine_tune"
    run = training_run_run(run_id=run.pk)
    events = list(run.events.values_list("message", flat=True))
    assert run.status == "completed", (run.error_message, events)
    tuned = run.result_model
    assert tuned.training_strategy == SLMModel.Strategy.FINE_TUNE and tuned.base_model == base
    assert tuned.architecture == "llama" and tuned.model_config["hf_config"]["vocab_size"] == 405
    assert any("model form" in m for m in events)

    engine.clear_cache()
    body = api.post(
        "/api/v1/generations/", {"text": "a red circle", "model": "tiny-llama-svg:1"}, format="json"
    ).json()
    run_jobs()
    output = DesignOutput.objects.get(pk=body["id"])
    # A tiny random base after six steps draws nothing usable yet; what matters is that it decoded.
    assert output.status in ("completed", "failed"), output.error_message
    assert output.model_version == tuned
    if output.status == "failed":
        assert output.error_message.startswith("The model produced no usable design")
    detail = api.get(f"/api/v1/generations/{body['id']}/").json()
    assert detail["status"] in ("completed", "failed")
    engine.clear_cache()
