"""Pretrained causal LMs from a Hugging Face-format folder: check one before it is registered, make it
write designs (our special tokens added where its tokenizer lacks them), to fine-tune it fully or with
LoRA (peft, slm.base_lora).

A base model keeps its own tokenizer: the model form of a design is plain text to it, encoded however its
vocabulary splits it. Only the five markers a sequence is built from ([bos] prompt [sep] design [eos],
padding, unknown) are added, as special tokens, with embedding rows of their own; under LoRA those rows
are trained too (peft's trainable tokens), the rest of the base stays frozen.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm.base_errors import BaseModelError
from slm.base_files import ImportLimits, check_names
from slm.base_lora import LORA_DEFAULT_TARGETS
from slm.base_meta import (
    check_against_headers,
    check_configs,
    check_parameters,
    header_tensors,
    meta_model,
    read_json,
)
from slm.tokenizer import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

# A design's model form as text: every kind of unit a form writes. A tokenizer must give it back exactly.
FORM_PROBE = "<path M 3 -4 L 10 12 C 1 2 3 4 5 6 Z R01 7 8 fill:#ff8800 stroke:none sw:2 cap:round <circle"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"


@dataclass
class BaseModelCheck:
    architecture: str  # config.json's model_type
    config: dict[str, Any]
    parameters: int
    vocab_size: int  # the tokenizer's
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path: sha256, size

    def lora_targets(self) -> tuple[str, ...]:
        return LORA_DEFAULT_TARGETS.get(self.architecture, ())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_base_model(folder: str | Path, limits: ImportLimits | None = None) -> BaseModelCheck:
    """Everything a base model needs, checked before anything is stored: only the files a model needs
    (no code), configs without custom code, an architecture transformers knows as a causal LM, within
    `limits`, whose every tensor the safetensors headers hold in its shape (checked on the meta device,
    before a weight is read), weights that load, a fast tokenizer that loads and writes the model form
    back exactly. Writes tokenizer.json when the tokenizer came from other files (training and serving
    read that one). Raises BaseModelError with the reason. Custom code is never run."""
    from slm._hf import ensure_transformers

    ensure_transformers()
    limits = limits or ImportLimits()
    folder = Path(folder)
    if not folder.is_dir():
        raise BaseModelError(f"{folder} is not a folder.")
    links = [p.name for p in folder.rglob("*") if p.is_symlink()]
    if links:
        raise BaseModelError(f"The folder holds links, which are not accepted: {', '.join(links[:3])}.")
    check_names([p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()])
    if not (folder / "config.json").is_file():
        raise BaseModelError("The folder has no config.json: it is not a Hugging Face model folder.")
    check_configs(folder)
    config = _load_config(folder)
    arch = str(getattr(config, "model_type", "") or "")
    _check_weights(folder)
    skeleton = meta_model(config)
    check_parameters(skeleton, limits.max_parameters)
    check_against_headers(skeleton, header_tensors(folder))
    del skeleton
    model = _load_weights(folder)
    tokenizer = _load_tokenizer(folder)
    embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > embeddings:
        raise BaseModelError(
            f"The tokenizer has {len(tokenizer)} tokens but the model only {embeddings} embedding rows: "
            "they do not belong together."
        )
    if not (folder / "tokenizer.json").is_file():
        tokenizer.save_pretrained(str(folder))
    from slm.model import count_parameters

    files = {
        p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    return BaseModelCheck(
        architecture=arch,
        config=config.to_dict(),
        parameters=count_parameters(model),
        vocab_size=len(tokenizer),
        files=files,
    )


def _load_config(folder: Path) -> Any:
    import transformers
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    raw = read_json(folder, "config.json")
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if not model_type:
        raise BaseModelError("config.json names no model_type: transformers cannot tell the architecture.")
    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    except (ValueError, KeyError) as exc:
        raise BaseModelError(
            f"The architecture {model_type!r} is not one transformers {transformers.__version__} knows "
            f"({str(exc).splitlines()[0][:200]})."
        ) from None
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise BaseModelError(
            f"The architecture {model_type!r} is not a causal language model transformers can train "
            "(AutoModelForCausalLM does not know it)."
        )
    return config


def _check_weights(folder: Path) -> None:
    if (folder / WEIGHTS).is_file():
        return
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise BaseModelError(f"{WEIGHTS_INDEX} cannot be read: {exc}.") from None
        outside = sorted(s for s in shards if not isinstance(s, str) or "/" in s or "\\" in s)
        if outside:
            raise BaseModelError(f"{WEIGHTS_INDEX} names shard files outside the folder: {outside[0]}.")
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            raise BaseModelError(
                f"The weights are incomplete: {len(missing)} shard(s) named in {WEIGHTS_INDEX} are missing "
                f"({', '.join(missing[:3])})."
            )
        return
    pickles = [p.name for p in folder.glob("*.bin")]
    if pickles:
        raise BaseModelError(
            f"The folder holds {', '.join(pickles[:2])} but no safetensors weights: convert them to "
            "model.safetensors (pickled weights are not loaded here)."
        )
    raise BaseModelError(f"The folder has no weights: neither {WEIGHTS} nor {WEIGHTS_INDEX} with its shards.")


def _load_weights(folder: Path) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    from slm.model import quiet_transformers

    try:
        with quiet_transformers():
            model, info = AutoModelForCausalLM.from_pretrained(
                str(folder), output_loading_info=True, use_safetensors=True, trust_remote_code=False
            )
    except Exception as exc:  # a torn or foreign file: safetensors, torch and transformers all raise
        raise BaseModelError(
            f"The weights do not load: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        ) from None
    missing = [k for k in info.get("missing_keys", []) if "rotary" not in k]
    if missing:
        raise BaseModelError(
            f"The weights are incomplete: {len(missing)} tensor(s) the architecture needs are missing "
            f"({', '.join(missing[:3])})."
        )
    mismatched = info.get("mismatched_keys", [])
    if mismatched:
        raise BaseModelError(
            f"The weights do not fit the config: {len(mismatched)} tensor(s) differ in shape."
        )
    return model


def _load_tokenizer(folder: Path) -> PreTrainedTokenizerFast:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True, trust_remote_code=False)
    except Exception as exc:  # transformers raises many kinds for a missing or broken tokenizer
        raise BaseModelError(
            f"The tokenizer does not load: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise BaseModelError("The tokenizer is not a fast (tokenizers) one: add its tokenizer.json.")
    ids = tokenizer.backend_tokenizer.encode(FORM_PROBE, add_special_tokens=False).ids
    back = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    if back != FORM_PROBE:
        raise BaseModelError(
            "The tokenizer does not give designs back exactly (it writes "
            f"{FORM_PROBE[:40]!r}… back as {back[:40]!r}…): a byte-level tokenizer is needed."
        )
    return tokenizer


def adapt_for_designs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """Give the tokenizer our sequence markers where it lacks them (as special tokens) and the model rows
    for them; the ids that are new. Models of our own already have them: nothing changes."""
    vocab = tokenizer.get_vocab()
    added = [t for t in SPECIAL_TOKENS if t not in vocab]
    if added:
        tokenizer.add_special_tokens(
            {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "sep_token": SEP, "unk_token": UNK}
        )
    new_ids = sorted(tokenizer.convert_tokens_to_ids(t) for t in added)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    ids["pad_token_id"] = tokenizer.pad_token_id
    for name, value in ids.items():
        setattr(model.config, name, value)
        if getattr(model, "generation_config", None) is not None:
            setattr(model.generation_config, name, value)
    tokenizer.padding_side = "left"
    return new_ids
