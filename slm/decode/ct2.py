"""Decoding through CTranslate2: conversion of a saved model directory, and the decode calls.

Conversion (`convert`) reads a transformers model directory (its architecture comes from its own
config.json: GPT-2, Llama and every other architecture CTranslate2's TransformersConverter supports) and
writes the converted model to `<model_dir>/ct2/`, so it travels with the weights as one more artifact.
A model that cannot be converted gets `<model_dir>/ct2-failed.json` with the reason instead; the
Generator (slm.decode.sampling) then decodes through transformers and says why. The marker records the
CTranslate2 version, so a newer CTranslate2 tries again.

Decoding (`Ct2Decoder.decode`): greedy requests share one `generate_batch` call (grouped by their token
budget); their tokens do not depend on what they are batched with (tested). A sampled request needs its
own seeded random generator, and CTranslate2 keeps one per worker thread, seeded once from the global
seed when the thread first samples (set_random_seed cannot re-seed a running thread). So each sampled
request decodes its candidates (`num_hypotheses`) on a fresh replica created after setting its seed: its
designs depend on its seed only. A replica is the same model files (read from the page cache) with one
worker thread; on the demo model it costs about 1.5 ms.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slm._hf import ensure_transformers
from slm.model import quiet_transformers
from slm.output_rows import NEVER

log = logging.getLogger(__name__)

CT2_DIR = "ct2"
FAILED = "ct2-failed.json"
COMPUTE_TYPES = ("float32", "int8")
_convert_lock = threading.Lock()


class ConversionError(Exception):
    """The model could not be converted (or loaded) by CTranslate2; the message says why."""


def converted_dir(model_dir: str | Path) -> Path:
    return Path(model_dir) / CT2_DIR


def is_converted(model_dir: str | Path) -> bool:
    return (converted_dir(model_dir) / "model.bin").is_file()


def failure_reason(model_dir: str | Path) -> str | None:
    """Why an earlier conversion of this directory failed, if it did with this CTranslate2 version."""
    marker = Path(model_dir) / FAILED
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("ctranslate2") != _version():
        return None  # another CTranslate2 may do better: try again
    return str(info.get("reason") or "unknown reason")


def convert(model_dir: str | Path, *, retry: bool = False) -> Path:
    """The directory's CTranslate2 model, converted now if it was not (float32 weights; int8 is a
    compute type chosen when loading). Raises ConversionError with the reason, remembered beside the
    weights so the next load does not try again (unless `retry`)."""
    model_dir = Path(model_dir)
    target = converted_dir(model_dir)
    with _convert_lock:
        if is_converted(model_dir):
            return target
        reason = None if retry else failure_reason(model_dir)
        if reason is not None:
            raise ConversionError(reason)
        tmp = Path(tempfile.mkdtemp(prefix=".ct2-", dir=model_dir))
        try:
            _convert_into(model_dir, tmp / "model")
            (tmp / "model").rename(target)
        except Exception as exc:
            if is_converted(model_dir):  # another process (sharing the model cache) got there first
                return target
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            (model_dir / FAILED).write_text(
                json.dumps({"reason": reason, "ctranslate2": _version()}), encoding="utf-8"
            )
            raise ConversionError(reason) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        (model_dir / FAILED).unlink(missing_ok=True)
        return target


def _convert_into(model_dir: Path, out: Path) -> None:
    ensure_transformers()
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    from slm.tokenizer import tokenizer_dir

    tokenizer_path = str(tokenizer_dir(model_dir))
    if (model_dir / ADAPTER_CONFIG).is_file():  # LoRA: the base with the adapter merged is what converts
        merged = out.parent / "merged"
        _merge_adapter(model_dir, merged)
        source = merged
    else:
        source = model_dir
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))

    suppressed = _suppressed(source)

    class Converter(TransformersConverter):  # type: ignore[misc]
        """The tokenizer from where the model keeps it (beside the weights, or in `tokenizer/`); rows the
        model's loss never trained (slm.output_rows) get a bias that no logit overcomes."""

        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return tokenizer_class.from_pretrained(tokenizer_path, **{**kwargs, "trust_remote_code": False})

        def _load(self) -> Any:
            spec = super()._load()
            if suppressed:
                spec.decoder.projection.bias = _never_bias(spec.decoder.projection.weight, suppressed)
            return spec

    with quiet_transformers():
        Converter(str(source)).convert(str(out), force=True)
    vocabulary = json.loads((out / "vocabulary.json").read_text(encoding="utf-8"))
    if len(set(vocabulary)) != len(vocabulary):
        raise ConversionError("the converted vocabulary has duplicate tokens")
    difference = _logit_difference(model_dir, out, config)
    if difference > LOGIT_TOLERANCE:
        # A converter that silently drops an option the model uses (GPT-2's per-layer attention scaling,
        # say) computes another function: refuse it rather than serve other designs.
        raise ConversionError(
            f"the converted model's logits differ from transformers' by {difference:.3g} "
            f"(more than {LOGIT_TOLERANCE:g}) on a probe sequence"
        )
    (out / "conversion.json").write_text(
        json.dumps(
            {
                "ctranslate2": ctranslate2.__version__,
                "architectures": config.get("architectures"),
                "model_type": config.get("model_type"),
                "weights": "float32",
                "adapter_merged": source is not model_dir,
            }
        ),
        encoding="utf-8",
    )
    shutil.copyfile(source / "config.json", out / "source_config.json")


def _suppressed(source: Path) -> list[int]:
    """The generation config's `suppress_tokens` (slm.output_rows), or none."""
    path = source / "generation_config.json"
    if not path.is_file():
        return []
    return [int(i) for i in json.loads(path.read_text(encoding="utf-8")).get("suppress_tokens") or []]


def _never_bias(weight: Any, suppressed: list[int]) -> Any:
    import numpy as np

    rows = int(weight.shape[0])  # a torch tensor or an array, as the loader left it
    bias = np.zeros(rows, dtype=np.float32)
    bias[[i for i in suppressed if i < rows]] = NEVER
    return bias


ADAPTER_CONFIG = "adapter_config.json"


def _merge_adapter(model_dir: Path, out: Path) -> None:
    """A PEFT adapter folder (LoRA) as one plain model: its base with the adapter merged, saved to `out`."""
    from peft import AutoPeftModelForCausalLM

    with quiet_transformers():
        model = AutoPeftModelForCausalLM.from_pretrained(str(model_dir), trust_remote_code=False)
        model.merge_and_unload().save_pretrained(str(out))


LOGIT_TOLERANCE = 1e-2  # float32 on both sides: differences are rounding, around 1e-5


def _logit_difference(model_dir: Path, ct2_dir: Path, config: dict[str, Any]) -> float:
    """The largest difference between CTranslate2's and transformers' logits (float32, CPU) over a probe
    sequence of the model's own tokens: the check that the conversion kept the model's function."""
    import ctranslate2
    import numpy as np
    import torch

    from slm.model import load_model

    vocab = int(config.get("vocab_size") or 0)
    length = min(16, int(config.get("n_positions") or config.get("max_position_embeddings") or 16))
    ids = [(7 * i + 3) % max(1, vocab) for i in range(length)]
    with quiet_transformers():
        model = load_model(model_dir, "cpu").eval()
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([ids])).logits[0].float().numpy()
    engine = ctranslate2.Generator(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=1)
    got = np.asarray(engine.forward_batch([ids]))[0]
    if got.shape != expected.shape:
        raise ConversionError(f"the converted model's logits have shape {got.shape}, not {expected.shape}")
    kept = np.ones(got.shape[-1], dtype=bool)
    suppressed = _suppressed(model_dir)
    if suppressed:  # those rows carry the large negative bias: the trained ones must agree
        kept[suppressed] = False
        if not (got[:, ~kept] < NEVER / 2).all():
            raise ConversionError("the converted model can write rows its training never did")
    return float(np.abs(got[:, kept] - expected[:, kept]).max())


def _version() -> str:
    import ctranslate2

    return str(ctranslate2.__version__)


def pick_device(requested: str | None = None) -> str:
    """CUDA when CTranslate2 sees a GPU, else the CPU."""
    if requested:
        return requested
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


@dataclass(frozen=True)
class Ct2Job:
    """One request as the decoder takes it: its prefix ids and token budget ([eos] included)."""

    prefix: list[int]
    budget: int
    n: int
    temperature: float = 0.0
    seed: int = 0
    top_k: int | None = None


class Ct2Decoder:
    """A loaded CTranslate2 model: decode(jobs) -> per job, per candidate (token ids, ended with eos)."""

    def __init__(
        self,
        ct2_dir: str | Path,
        *,
        eos_id: int,
        device: str | None = None,
        compute_type: str = "float32",
        threads: int = 0,
    ) -> None:
        import ctranslate2

        if compute_type not in COMPUTE_TYPES:
            raise ValueError(f"compute type {compute_type!r} is not one of {', '.join(COMPUTE_TYPES)}")
        self.path = str(ct2_dir)
        self.device = pick_device(device)
        self.compute_type = compute_type
        self.threads = max(0, int(threads or 0))
        self.eos_id = int(eos_id)
        self.vocabulary: list[str] = json.loads(
            (Path(ct2_dir) / "vocabulary.json").read_text(encoding="utf-8")
        )
        self.generator = self._replica()
        self._lock = threading.Lock()  # a sampled request's seed and its replica's first draw go together
        self._ct2 = ctranslate2

    def _replica(self) -> Any:
        import ctranslate2

        return ctranslate2.Generator(
            self.path,
            device=self.device,
            compute_type=self.compute_type,
            inter_threads=1,
            intra_threads=self.threads,
        )

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.vocabulary[i] for i in ids]

    def _options(self, budget: int) -> dict[str, Any]:
        return {
            "max_length": budget,
            "include_prompt_in_result": False,
            "end_token": [self.eos_id],
            "return_end_token": True,
        }

    def _split(self, ids: list[int]) -> tuple[list[int], bool]:
        if ids and ids[-1] == self.eos_id:
            return ids[:-1], True
        return ids, False

    def decode(self, jobs: Sequence[Ct2Job]) -> list[list[tuple[list[int], bool]]]:
        out: list[list[tuple[list[int], bool]]] = [[] for _ in jobs]
        greedy: dict[int, list[int]] = {}
        for i, job in enumerate(jobs):
            if job.n < 1 or job.budget < 1:
                out[i] = [([], False)] * max(0, job.n)
            elif job.temperature > 0:
                out[i] = self._sampled(job)
            else:
                greedy.setdefault(job.budget, []).append(i)
        for budget, indices in greedy.items():  # one batch call per token budget
            results = self.generator.generate_batch(
                [self.tokens(jobs[i].prefix) for i in indices], sampling_topk=1, **self._options(budget)
            )
            for i, result in zip(indices, results, strict=True):
                ids, finished = self._split(list(result.sequences_ids[0]))
                out[i] = [(list(ids), finished) for _ in range(jobs[i].n)]  # greedy: all alike
        return out

    def _sampled(self, job: Ct2Job) -> list[tuple[list[int], bool]]:
        with self._lock:
            self._ct2.set_random_seed(int(job.seed) % (2**32 - 1))
            replica = self._replica()  # its worker thread seeds itself from the seed just set
            results = replica.generate_batch(
                [self.tokens(job.prefix)],
                num_hypotheses=job.n,
                sampling_topk=int(job.top_k or 0),  # 0: the whole vocabulary
                sampling_temperature=float(job.temperature),
                **self._options(job.budget),
            )
        del replica
        return [self._split(list(ids)) for ids in results[0].sequences_ids]
