"""A base model's config checked before any weight is allocated: no custom code, an architecture built on
the meta device (tensors without memory), its parameter count within the limit, and every tensor it
needs found in the safetensors headers with the same shape and a floating dtype. `safe_open` reads a
file's header only; the weights themselves are read later, once all this holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from slm.base_errors import BaseModelError

CONFIG_FILES = ("config.json", "tokenizer_config.json", "generation_config.json")
MAX_CONFIG_BYTES = 1024**2
# Counts that multiply modules (layers, experts): the meta build makes one Python object per module, so a
# config asking for millions would take the memory and time the meta device saves.
COUNT_KEY = re.compile(r"(^|_)(layers?|experts?)$")
MAX_COUNT = 1024
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"


def read_json(folder: Path, name: str) -> Any:
    path = folder / name
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise BaseModelError(f"{name} is larger than {MAX_CONFIG_BYTES // 1024} KiB: not a config.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BaseModelError(f"{name} is not valid JSON: {exc}.") from None


def check_configs(folder: Path) -> None:
    """Refuse configs that ask for custom code (`auto_map`) or an absurd number of layers or experts."""
    for name in CONFIG_FILES:
        if not (folder / name).is_file():
            continue
        raw = read_json(folder, name)
        for key, value in _walk(raw):
            if key == "auto_map":
                raise BaseModelError(
                    f"{name} names custom code (auto_map): custom code is never run here, so a model "
                    "that needs it cannot be imported."
                )
            counted = isinstance(value, int) and not isinstance(value, bool) and COUNT_KEY.search(key)
            if counted and value > MAX_COUNT:
                raise BaseModelError(
                    f"{name} asks for {key} = {value:,}; at most {MAX_COUNT:,} are accepted."
                )


def meta_model(config: Any) -> Any:
    """The architecture, built on the meta device: shapes without memory."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except Exception as exc:  # a config transformers accepts but cannot build from
        raise BaseModelError(
            f"The architecture cannot be built from config.json: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:300] if str(exc) else ''}"
        ) from None


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def check_parameters(model: Any, max_parameters: int) -> int:
    count = parameter_count(model)
    if count > max_parameters:
        raise BaseModelError(
            f"config.json describes a model of {count:,} parameters; at most {max_parameters:,} are accepted "
            "(BASE_MODEL_MAX_PARAMETERS)."
        )
    return count


def header_tensors(folder: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Name → (shape, dtype) of every tensor in the weights, from the safetensors headers alone."""
    from safetensors import safe_open

    if (folder / WEIGHTS).is_file():
        shards = [WEIGHTS]
    else:
        index = read_json(folder, WEIGHTS_INDEX)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise BaseModelError(f"{WEIGHTS_INDEX} has no weight_map of tensor names to shard files.")
        shards = sorted(set(weight_map.values()))
        bad = [s for s in shards if "/" in s or "\\" in s or not s.endswith(".safetensors")]
        if bad:
            raise BaseModelError(
                f"{WEIGHTS_INDEX} names shard files outside the folder: {', '.join(bad[:3])}."
            )
    tensors: dict[str, tuple[tuple[int, ...], str]] = {}
    for shard in shards:
        try:
            with safe_open(str(folder / shard), framework="pt") as fh:
                for name in fh.keys():  # noqa: SIM118 - a safe_open handle, not a dict
                    part = fh.get_slice(name)
                    tensors[name] = (tuple(part.get_shape()), str(part.get_dtype()))
        except Exception as exc:  # a torn or foreign file: safetensors raises its own kinds
            raise BaseModelError(
                f"The weights do not load: {shard}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            ) from None
    return tensors


def check_against_headers(model: Any, tensors: dict[str, tuple[tuple[int, ...], str]]) -> None:
    """Every parameter the architecture needs is in the weights (a tied one under either of its names),
    with its shape and a floating dtype; the weights hold nothing the architecture lacks."""
    prefix = getattr(model, "base_model_prefix", "") or ""
    expected = {name: tuple(t.shape) for name, t in model.state_dict(keep_vars=True).items()}
    found: dict[str, tuple[tuple[int, ...], str]] = {}
    ignore = [re.compile(p) for p in (getattr(model, "_keys_to_ignore_on_load_unexpected", None) or ())]
    unexpected = []
    for name, value in tensors.items():
        key = name
        if key not in expected and f"{prefix}.{key}" in expected:
            key = f"{prefix}.{key}"
        elif (
            key not in expected
            and prefix
            and key.startswith(f"{prefix}.")
            and key[len(prefix) + 1 :] in expected
        ):
            key = key[len(prefix) + 1 :]
        if key in expected:
            found[key] = value
        elif not any(p.search(name) for p in ignore):
            unexpected.append(name)
    if unexpected:
        raise BaseModelError(
            f"The weights do not fit the config: {len(unexpected)} tensor(s) the architecture does not have "
            f"({', '.join(unexpected[:3])})."
        )
    groups: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(param), []).append(name)
    missing = [names[0] for names in groups.values() if not any(n in found for n in names)]
    if missing:
        raise BaseModelError(
            f"The weights are incomplete: {len(missing)} tensor(s) the architecture needs are missing "
            f"({', '.join(missing[:3])})."
        )
    wrong = [f"{k} is {list(s)}, not {list(expected[k])}" for k, (s, _) in found.items() if s != expected[k]]
    if wrong:
        raise BaseModelError(
            f"The weights do not fit the config: {len(wrong)} tensor(s) differ in shape ({'; '.join(wrong[:3])})."
        )
    params = {n for names in groups.values() for n in names}
    odd = [f"{k} ({d})" for k, (_, d) in found.items() if k in params and d not in FLOAT_DTYPES]
    if odd:
        raise BaseModelError(
            f"The weights hold {len(odd)} parameter(s) of a dtype that is not a float ({', '.join(odd[:3])})."
        )


def _walk(value: Any, depth: int = 0):
    if depth > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1)
