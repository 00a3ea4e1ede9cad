"""The per-process Generator cache and the actor's declared limits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generation import engine
from generation.tasks import generate
from slm.decode.sampling import NOT_CONVERTED
from tests.shared_fixtures import TINY_MODEL
from training.models import SLMModel

pytestmark = pytest.mark.django_db


def test_generators_are_cached_per_model_and_evicted_lru(monkeypatch, settings):
    settings.GENERATION_MODEL_CACHE_SIZE = 2
    engine.clear_cache()
    loads: list[str] = []
    monkeypatch.setattr(engine, "load_generator", lambda model: loads.append(str(model.pk)) or object())
    a, b, c = (SLMModel.objects.create(model_name="m", version=i) for i in (1, 2, 3))
    first = engine.get_generator(a)
    assert engine.get_generator(a) is first
    engine.get_generator(b)
    engine.get_generator(a)  # a is now the most recent
    engine.get_generator(c)  # evicts b
    engine.get_generator(a)
    engine.get_generator(b)
    assert loads == [str(a.pk), str(b.pk), str(c.pk), str(b.pk)]
    engine.clear_cache()


def test_a_model_without_artifacts_cannot_load():
    with pytest.raises(LookupError):
        engine.load_generator(SLMModel.objects.create(model_name="empty", version=1))


def test_actor_declares_queue_limits_and_the_one_retry_budget(settings):
    assert generate.queue_name == "generation"
    assert generate.options["time_limit"] == 5 * 60 * 1000
    # Dramatiq re-delivers within the attempts the claim counts (core.jobs): one budget, not two.
    assert generate.options["max_retries"] == settings.JOB_MAX_ATTEMPTS - 1


@pytest.mark.parametrize("decode_process", [True, False], ids=["decode-process", "decode-thread"])
def test_a_real_generator_loads_from_the_registry_and_runs(
    api, monkeypatch, tmp_path, settings, decode_process
):
    """The real path, no fake: artifacts in storage -> local cache -> the model's decode loop (its own
    process, or a thread here) -> one request. The version was stored without a CTranslate2 conversion
    (registered before conversions existed): the request does not convert it, transformers serves it
    and the reason is recorded. Moving an alias to it converts it (stored beside its weights), and the
    next request is decoded by CTranslate2. The model is untrained, so a request may fail cleanly with
    "no usable design"."""
    settings.GENERATION_DECODE_PROCESS = decode_process
    from training.artifacts import cache_root, storage_manifest
    from training.services.registry import model_alias_move

    version = _tiny_version(tmp_path)
    engine.clear_cache()
    monkeypatch.setattr(engine, "load_generator", _counting(engine.load_generator))

    output = _request(api)
    assert output.design_metadata["batch"]["engine"] == {
        "name": "transformers",
        "compute_type": "float32",
        "fallback_reason": NOT_CONVERTED,
    }
    local = cache_root() / str(version.pk)
    assert local.is_dir() and not (local / "ct2").exists() and not (local / "ct2-failed.json").exists()
    assert not any(name.startswith("ct2") for name in storage_manifest(storage_path=version.storage_path))
    assert _counting.calls == 1
    scheduler = engine.get_scheduler(version)
    assert type(scheduler).__name__ == ("DecodeServer" if decode_process else "Scheduler")

    model_alias_move(name="staging", model_version=version, system=True)
    assert "ct2/model.bin" in storage_manifest(storage_path=version.storage_path)
    output = _request(api)  # the claim reads the row the conversion saved: the version loads afresh
    assert output.design_metadata["batch"]["engine"] == {"name": "ctranslate2", "compute_type": "float32"}
    assert _counting.calls == 2
    engine.clear_cache()


def _tiny_version(tmp_path):
    from slm.model import build_model
    from slm.synthetic import generate_corpus
    from slm.tokenizer import save_tokenizer, train_tokenizer
    from training.artifacts import artifacts_upload
    from training.models import ModelAlias

    texts = [t for e in generate_corpus(200, seed=0) for t in (e.prompt, e.svg)]
    tokenizer = train_tokenizer(texts, vocab_size=300)
    model = build_model(replace(TINY_MODEL, n_positions=96), tokenizer)
    local = tmp_path / "tiny"
    model.save_pretrained(str(local))
    save_tokenizer(tokenizer, local / "tokenizer")
    version = SLMModel.objects.create(
        model_name="tiny", version=1, storage_path=artifacts_upload(local_dir=local, prefix="models/tiny/1")
    )
    ModelAlias.objects.create(name="production", model_version=version)
    return version


def _request(api):
    from generation.models import DesignOutput
    from tests.api.conftest import run_jobs

    body = api.post("/api/v1/generations/", {"text": "a red circle", "model": "tiny:1"}, format="json").json()
    run_jobs()
    output = DesignOutput.objects.get(pk=body["id"])
    assert output.status in ("completed", "failed")
    if output.status == "failed":
        assert output.error_message.startswith("The model produced no usable design")
        assert output.design_metadata["candidates_tried"] == 1
    return output


def _counting(fn):
    def wrapper(model):
        _counting.calls += 1
        return fn(model)

    _counting.calls = 0
    return wrapper
