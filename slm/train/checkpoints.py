"""Atomic checkpoints and the final model folder.

Checkpoints live in out_dir/checkpoints/step-XXXXXXXX; a checkpoint counts only once its manifest.json
exists (written last), so a run killed mid-write is never resumed from a torn state.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm.model import quiet_transformers
from slm.train.config import TrainConfig, TrainResult

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

MANIFEST = "manifest.json"
TRAINER_STATE = "trainer_state.pt"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath))


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_path(path.parent)


def publish_dir(tmp: Path, final: Path) -> None:
    """fsync a fully written temp dir and rename it into place, replacing any previous version."""
    _fsync_tree(tmp)
    if final.exists():
        trash = final.with_name(f".trash-{final.name}-{uuid.uuid4().hex}")
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, final)
    _fsync_path(final.parent)


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Complete checkpoints (with a manifest), oldest first."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith("step-") and (p / MANIFEST).is_file():
            try:
                found.append((int(json.loads((p / MANIFEST).read_text())["step"]), p))
            except (ValueError, KeyError, json.JSONDecodeError):
                continue  # a corrupt manifest is as good as none
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: Path) -> Path | None:
    ckpts = list_checkpoints(out_dir)
    return ckpts[-1] if ckpts else None


def save_checkpoint(
    out_dir: Path,
    step: int,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    state: dict[str, Any],
    manifest: dict[str, Any],
    keep: int = 2,
) -> Path:
    import torch

    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{step:08d}-{uuid.uuid4().hex}"
    tmp.mkdir()
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))  # standard HF layout: model and tokenizer side by side
    torch.save(state, tmp / TRAINER_STATE)
    final = root / f"step-{step:08d}"
    publish_dir(tmp, final)
    write_json_atomic(final / MANIFEST, {**manifest, "step": step, "written_at": time.time()})
    for old in list_checkpoints(out_dir)[: -max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def clean_stale(out_dir: Path) -> None:
    """Remove temp dirs and manifest-less checkpoints left by a killed run."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return
    for p in root.iterdir():
        if p.is_dir() and (p.name.startswith((".tmp-", ".trash-")) or not (p / MANIFEST).exists()):
            shutil.rmtree(p, ignore_errors=True)


def load_trainer_state(checkpoint: Path) -> dict[str, Any]:
    """A checkpoint's trainer state (optimizer, schedule, batcher, RNG): tensors and plain containers
    only. weights_only: a checkpoint folder can come from another machine (a shared WORK_DIR), and a full
    unpickle would run whatever code a crafted file names. map_location: a CUDA run's checkpoint must
    resume on a CPU-only host too."""
    import torch

    return torch.load(Path(checkpoint) / TRAINER_STATE, map_location="cpu", weights_only=True)


def rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_final(
    out_dir: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    config: TrainConfig,
    result: TrainResult,
    elapsed: float,
) -> Path:
    """out_dir/final: model (save_pretrained), tokenizer/ and manifest.json, published atomically."""
    final = Path(out_dir) / "final"
    tmp = Path(out_dir) / f".tmp-final-{uuid.uuid4().hex}"
    tmp.mkdir()
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))  # standard HF layout: model and tokenizer side by side
    metrics = {
        **result.metrics(),
        "training_seconds": elapsed,
        "vocab_size": len(tokenizer),
        "skipped_examples": result.skipped_examples,
    }
    write_json_atomic(
        tmp / MANIFEST, {"config": config.to_dict(), "metrics": metrics, "written_at": time.time()}
    )
    publish_dir(tmp, final)
    return final


BEST = "best"


def save_best(
    out_dir: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, manifest: dict[str, Any]
) -> Path:
    """out_dir/best: the weights a run keeps (its best validation so far), published atomically."""
    tmp = Path(out_dir) / f".tmp-best-{uuid.uuid4().hex}"
    tmp.mkdir()
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    write_json_atomic(tmp / MANIFEST, {**manifest, "written_at": time.time()})
    best = Path(out_dir) / BEST
    publish_dir(tmp, best)
    return best


def read_best(out_dir: Path) -> dict[str, Any] | None:
    """The kept state's manifest (step, score, validation figures), or None."""
    path = Path(out_dir) / BEST / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
