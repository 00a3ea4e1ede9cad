"""Hostile base-model uploads: a few-KB config that implies a billion parameters, ZIP bombs, custom code,
links, pickles, path clashes, and the caps. Each is refused with its reason, nothing runs, nothing is
stored, and no staging folder is left behind."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from tests.base_model import make_tiny_base
from training.models import BaseModelImport, SLMModel

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
BILLION = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 16}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_base(tmp_path_factory.mktemp("hf") / "tiny-llama")


def _zip(path: Path, files: dict[str, bytes | str], *, links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0
            zf.writestr(info, target)
    return path


def _model_files(folder: Path, **config_changes) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    config = {**json.loads(files["config.json"]), **config_changes}
    files["config.json"] = json.dumps(config).encode()
    return files


def _refused(path: Path, reason: str, name: str = "evil") -> None:
    with pytest.raises(CommandError, match=f"Not imported: .*{reason}"):
        call_command("import_base_model", str(path), "--name", name)
    assert not SLMModel.objects.filter(model_name=name).exists()
    root = Path(default_storage.location) / "models" / name
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))
    staging = Path(django_settings.WORK_DIR) / "base-imports"
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    assert BaseModelImport.objects.get(model_name=name).status == "failed"


CHILD = """
import json, resource, sys, zipfile
from pathlib import Path
from slm.base import BaseModelError, check_base_model
folder = Path(sys.argv[2])
zipfile.ZipFile(sys.argv[1]).extractall(folder)
try:
    check_base_model(folder)
    outcome = "accepted"
except BaseModelError as exc:
    outcome = f"refused: {exc}"
print(json.dumps({"outcome": outcome, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_a_few_kb_config_implying_a_billion_parameters_is_refused_in_little_memory(tiny, tmp_path) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"model.embed_tokens.weight": torch.zeros(4, 4)}, str(tmp_path / "w.safetensors"))
    files = _model_files(tiny, **BILLION)
    files = {
        "config.json": files["config.json"],
        "model.safetensors": (tmp_path / "w.safetensors").read_bytes(),
    }
    archive = _zip(tmp_path / "inflated.zip", files)
    assert archive.stat().st_size < 4096
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(archive), str(tmp_path / "unpacked")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["outcome"].startswith("refused: The weights are incomplete"), report
    assert report["peak_kib"] < 1.5 * 1024 * 1024, report  # a loaded billion parameters would take 4 GiB


def test_the_parameter_cap_refuses_before_any_weight_is_read(tiny, tmp_path, settings) -> None:
    settings.BASE_MODEL_MAX_PARAMETERS = 10_000
    _refused(_zip(tmp_path / "big.zip", _model_files(tiny)), "parameters; at most 10,000")
    settings.BASE_MODEL_MAX_PARAMETERS = 2_000_000_000
    huge = _model_files(tiny, num_hidden_layers=5_000_000)
    _refused(_zip(tmp_path / "layers.zip", huge), "num_hidden_layers = 5,000,000", name="layers")


@pytest.fixture(scope="module")
def gigabyte_of_zeros(tmp_path_factory, tiny) -> tuple[Path, Path]:
    """Two ~1 MiB ZIPs of the tiny model with a 1 GiB member of zeros: one under a name a model never
    has, one under a weights shard's name."""
    out = []
    for member in ("padding.bin", "model-00002-of-00002.safetensors"):
        path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in _model_files(tiny).items():
                zf.writestr(name, data)
            with zf.open(member, "w", force_zip64=True) as fh:
                zeros = bytes(1 << 20)
                for _ in range(1024):
                    fh.write(zeros)
        out.append(path)
    return out[0], out[1]


def test_a_gigabyte_member_in_a_megabyte_zip_is_refused_and_nothing_is_stored(gigabyte_of_zeros) -> None:
    named, shard = gigabyte_of_zeros
    assert named.stat().st_size < 3 * 1024**2
    _refused(named, r"may not \(padding.bin\)", name="bomb")
    _refused(shard, "expands 1,0[0-9]{2} times when unpacked", name="bomb2")


def test_the_size_and_file_caps_hold(tiny, tmp_path, settings) -> None:
    archive = _zip(tmp_path / "tiny.zip", _model_files(tiny))
    settings.BASE_MODEL_MAX_FILES = 2
    _refused(archive, "files; at most 2 are accepted", name="many")
    settings.BASE_MODEL_MAX_FILES = 64
    settings.BASE_MODEL_MAX_BYTES = 4096
    _refused(archive, "at most 4.0 KiB are accepted", name="large")


MARK = "ATELIER_EVIL_MARK"
EVIL = "import os, pathlib\npathlib.Path(os.environ['" + MARK + "']).write_text('ran')\n"


def test_custom_code_is_refused_even_with_yes_on_stdin_and_never_runs(tiny, tmp_path, monkeypatch) -> None:
    mark = tmp_path / "ran.txt"
    monkeypatch.setenv(MARK, str(mark))
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 20))
    auto_map = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    files = {**_model_files(tiny, model_type="atelier-evil", auto_map=auto_map), "evil.py": EVIL}
    _refused(_zip(tmp_path / "evil.zip", files), "holds code \\(evil.py\\)")
    del files["evil.py"]
    _refused(_zip(tmp_path / "auto.zip", files), "config.json names custom code", name="auto")
    tok = _model_files(tiny)
    tok["tokenizer_config.json"] = json.dumps(
        {**json.loads(tok["tokenizer_config.json"]), "auto_map": {"AutoTokenizer": ["evil.Tok", None]}}
    )
    _refused(_zip(tmp_path / "tok.zip", tok), "tokenizer_config.json names custom code", name="tok")
    assert not mark.exists()


def test_pickles_links_stray_files_and_path_clashes_are_refused_by_name(tiny, tmp_path) -> None:
    files = _model_files(tiny)
    _refused(_zip(tmp_path / "p.zip", {**files, "pytorch_model.bin": b"x"}), r"\(pytorch_model.bin\)", "p")
    _refused(_zip(tmp_path / "l.zip", files, links={"vocab.json": "/etc/passwd"}), "a link", "l")
    _refused(_zip(tmp_path / "c.zip", {**files, "a": b"1", "a/b": b"2"}), "both a file a and a/b", "c")
    _refused(_zip(tmp_path / "d.zip", {**files, "sub/config.json": b"{}"}), r"\(sub/config.json\)", "d")
    folder = tmp_path / "linked"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "merges.txt").symlink_to("/etc/passwd")
    _refused(folder, "a link, which is not accepted: merges.txt", "folder")


def test_a_killed_import_leaves_nothing_the_sweeper_does_not_remove(tiny, tmp_path) -> None:
    import time

    staging = Path(django_settings.WORK_DIR) / "base-imports" / "dead-import-x"
    (staging / "model").mkdir(parents=True)
    (staging / "model" / "model.safetensors").write_bytes(b"0" * 1000)
    orphan = default_storage.save("models/orphan/v1-deadbeef/model.safetensors", io.BytesIO(b"w"))
    upload = default_storage.save("base-imports/uploads/2020/01/01/x.zip", io.BytesIO(b"z"))
    call_command("import_base_model", str(tiny), "--name", "kept")
    kept = SLMModel.objects.get(model_name="kept")
    old = time.time() - 2 * 86400
    for path in [staging, staging / "model", staging / "model" / "model.safetensors"]:
        os.utime(path, (old, old))
    for name in (orphan, upload, f"{kept.storage_path}/MANIFEST.json"):
        os.utime(default_storage.path(name), (old, old))
    fresh = default_storage.save("models/fresh/v1-cafecafe/model.safetensors", io.BytesIO(b"w"))
    call_command("sweep_base_imports")
    assert not staging.exists()
    assert not default_storage.exists(orphan) and not default_storage.exists(upload)
    assert default_storage.exists(f"{kept.storage_path}/MANIFEST.json")  # a row points to it
    assert default_storage.exists(fresh)  # young: an upload may be on its way


def test_workers_run_the_sweep_periodically() -> None:
    import training.tasks  # noqa: F401 - registers the periodic sweep, as a worker's autodiscovery does
    from core.jobs.periodic import run_due

    staging = Path(django_settings.WORK_DIR) / "base-imports" / "left-by-a-dead-worker"
    staging.mkdir(parents=True)
    old = 0
    os.utime(staging, (old, old))
    assert "base-model sweep" in run_due(now=10**12)
    assert not staging.exists()
    assert "base-model sweep" not in run_due(now=10**12 + 60)  # hourly, not every reaper tick
