"""Importing a base model (a Hugging Face folder) into the registry: checks first, nothing half-stored;
the command, the admin's ZIP upload, and what a run may ask of a base model."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from core.roles import ML_STAFF
from tests.base_model import make_tiny_base
from tests.factories import UserFactory, synthetic_snapshot
from tests.shared_fixtures import user_in_role
from training.models import BaseModelImport, SLMModel, TrainingRun
from training.services.base_models import base_model_import, base_model_import_run
from training.services.runs import training_run_create

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    return make_tiny_base(tmp_path_factory.mktemp("hf") / "tiny-llama")


@pytest.fixture
def base_copy(tiny_base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_base, tmp_path / "tiny-llama"))


def _nothing_stored(name: str) -> None:
    assert not SLMModel.objects.filter(model_name=name).exists()
    root = Path(default_storage.location) / "models" / name
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))


def test_the_command_registers_a_checked_folder_as_pretrained(base_copy: Path, capsys) -> None:
    call_command("import_base_model", str(base_copy), "--name", "tiny-llama")
    model = SLMModel.objects.get(model_name="tiny-llama")
    assert model.version == 1 and model.training_strategy == SLMModel.Strategy.PRETRAINED
    assert model.architecture == "llama" and model.parameter_count > 10_000
    files = model.model_config["files"]
    manifest = json.loads(default_storage.open(f"{model.storage_path}/MANIFEST.json").read())
    assert {rel: f["sha256"] for rel, f in files.items()} == {
        rel: f["sha256"] for rel, f in manifest["files"].items()
    }
    assert model.model_config["hf_config"]["model_type"] == "llama"
    assert "Registered tiny-llama v1 (llama" in capsys.readouterr().out
    call_command("import_base_model", str(base_copy), "--name", "tiny-llama")
    assert SLMModel.objects.get(model_name="tiny-llama", version=2)


def test_a_zip_and_object_storage_are_sources_too(base_copy: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "tiny"), "zip", base_copy.parent, base_copy.name)
    assert base_model_import(source=archive, name="zipped").training_strategy == "pretrained"
    for path in base_copy.iterdir():
        default_storage.save(f"incoming/tiny/{path.name}", io.BytesIO(path.read_bytes()))
    assert base_model_import(source="storage:incoming/tiny", name="stored").architecture == "llama"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "model.safetensors").unlink(), "The folder has no weights"),
        (lambda f: (f / "tokenizer.json").write_text("{not json"), "The tokenizer does not load"),
        (
            lambda f: (f / "config.json").write_text(
                json.dumps({**json.loads((f / "config.json").read_text()), "model_type": "nonesuch"})
            ),
            "The architecture 'nonesuch' is not one transformers",
        ),
        (lambda f: (f / "config.json").unlink(), "The folder has no config.json"),
    ],
    ids=["no-weights", "broken-tokenizer", "unknown-architecture", "no-config"],
)
def test_bad_folders_answer_clearly_and_store_nothing(base_copy: Path, damage, reason: str) -> None:
    damage(base_copy)
    with pytest.raises(CommandError, match=f"Not imported: {reason}"):
        call_command("import_base_model", str(base_copy), "--name", "broken")
    _nothing_stored("broken")


def test_a_failed_upload_leaves_no_row_and_no_files(base_copy: Path, monkeypatch) -> None:
    from training.services import base_models

    real = base_models.artifacts_upload

    def half(*, local_dir, prefix):
        real(local_dir=local_dir, prefix=prefix)
        raise OSError("bucket went away")

    monkeypatch.setattr(base_models, "artifacts_upload", half)
    with pytest.raises(ValidationError, match="OSError: bucket went away"):
        base_model_import(source=base_copy, name="halfway")
    _nothing_stored("halfway")
    assert BaseModelImport.objects.get(model_name="halfway").status == "failed"


def test_the_admin_uploads_a_zipped_folder(client, roles, base_copy: Path) -> None:
    client.force_login(user_in_role("mlops", ML_STAFF, is_staff=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in base_copy.iterdir():
            zf.write(path, f"tiny-llama/{path.name}")
    listing = client.get("/admin/training/slmmodel/")
    assert b"Import a base model" in listing.content
    buf.seek(0)
    buf.name = "tiny-llama.zip"
    response = client.post("/admin/training/slmmodel/import-base/", {"file": buf, "name": "uploaded"})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = BaseModelImport.objects.get(model_name="uploaded")
    assert response["Location"].endswith(f"/admin/training/basemodelimport/{job.pk}/change/")
    assert job.status == "pending" and not SLMModel.objects.filter(model_name="uploaded").exists()
    job = base_model_import_run(import_id=job.pk)  # what the worker does
    assert SLMModel.objects.get(model_name="uploaded").training_strategy == "pretrained"
    assert not default_storage.exists(job.source)  # the upload is gone once imported
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"uploaded v1" in page.content
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("tiny/config.json", (base_copy / "config.json").read_text())
    bad.seek(0)
    bad.name = "no-weights.zip"
    response = client.post("/admin/training/slmmodel/import-base/", {"file": bad, "name": "nope"})
    assert response.status_code == 302
    job = base_model_import_run(import_id=BaseModelImport.objects.get(model_name="nope").pk)
    assert job.status == "failed" and job.error_message.startswith("The folder has no weights")
    page = client.get(response["Location"])
    assert b"The folder has no weights" in page.content
    _nothing_stored("nope")


@pytest.fixture
def dataset(db):
    return synthetic_snapshot()


def test_a_lora_target_that_does_not_exist_is_refused_before_the_run_exists(base_copy: Path, dataset) -> None:
    base = base_model_import(source=base_copy, name="tiny-llama")
    with pytest.raises(ValidationError) as exc:
        training_run_create(
            dataset=dataset,
            base_model=base,
            params={"finetune": "lora", "lora_targets": "q_proj, attn_nope", "max_steps": 5},
            enqueue=False,
        )
    assert (
        "LoRA target(s) attn_nope do not exist in a llama model" in exc.value.message_dict["lora_targets"][0]
    )
    with pytest.raises(ValidationError, match="LoRA fine-tunes a base model"):
        training_run_create(dataset=dataset, params={"finetune": "lora", "max_steps": 5}, enqueue=False)
    assert not TrainingRun.objects.exists()


def test_an_imported_base_model_does_not_serve_designs_before_fine_tuning(base_copy: Path, roles) -> None:
    from generation.services.requests import generation_create

    base = base_model_import(source=base_copy, name="tiny-llama")
    with pytest.raises(ValidationError, match="is an imported base model: fine-tune it"):
        generation_create(user=UserFactory(), text="a red circle", model=str(base.pk))
