"""LoRA on a base model (peft): which layers it adapts (the architecture's defaults, or the run's names,
checked against the model's linear layers), wrapping and resuming an adapter, and the model a step runs
through or that is registered (the adapters merged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slm.base_errors import BaseModelError

# LoRA targets when the run names none: the attention projections, as the LoRA paper and peft do.
LORA_DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    "gpt2": ("c_attn", "c_proj"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mistral": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen2": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gemma": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "phi3": ("qkv_proj", "o_proj"),
    "gpt_neox": ("query_key_value", "dense"),
    "gpt_bigcode": ("c_attn", "c_proj"),
    "opt": ("q_proj", "k_proj", "v_proj", "out_proj"),
}


def linear_module_names(model: Any) -> list[str]:
    """The last name part of every layer LoRA could adapt (Linear, GPT-2's Conv1D), sorted."""
    import torch

    names = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D":
            names.add(name.rsplit(".", 1)[-1])
    return sorted(names)


def lora_target_check(model: Any, targets: list[str]) -> None:
    """BaseModelError naming the targets the model has no layer for, and the ones it has."""
    have = linear_module_names(model)
    unknown = [t for t in targets if t not in have]
    if unknown:
        raise BaseModelError(
            f"LoRA target(s) {', '.join(unknown)} do not exist in this {model.config.model_type} model; "
            f"its linear layers are: {', '.join(have)}."
        )


def lora_targets_for(model: Any, targets: list[str] | None) -> list[str]:
    """The targets a run named, else the architecture's defaults, else every attention-like layer."""
    if targets:
        return list(targets)
    default = LORA_DEFAULT_TARGETS.get(model.config.model_type)
    if default:
        return list(default)
    have = linear_module_names(model)
    return [n for n in have if n not in ("lm_head", "embed_out")]


def lora_wrap(model: Any, rank: int, alpha: int, targets: list[str] | None, new_ids: list[int]) -> Any:
    """The model with LoRA adapters on `targets` (peft); only they and the rows of new tokens train."""
    from peft import LoraConfig, get_peft_model

    chosen = lora_targets_for(model, targets)
    lora_target_check(model, chosen)
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        target_modules=chosen,
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
        fan_in_fan_out=model.config.model_type in ("gpt2", "gpt_bigcode"),
        trainable_token_indices=list(new_ids) or None,
    )
    return get_peft_model(model, config)


def lora_resume(model: Any, adapter_dir: Path) -> Any:
    """The base with a saved adapter (a checkpoint), trainable again."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)


def lora_load_state(model: Any, adapter_dir: Path) -> None:
    """Put a saved adapter's weights (the kept best state) into a LoRA model in place."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(Path(adapter_dir) / "adapter_model.safetensors")))


def is_lora(model: Any) -> bool:
    return hasattr(model, "peft_config")


def trainable(model: Any) -> Any:
    """The transformers model a step runs through (a LoRA model's, with its adapters in place)."""
    return model.get_base_model() if is_lora(model) else model


def merged(model: Any) -> Any:
    """A plain transformers model with the adapters merged into its weights (what is registered)."""
    return model.merge_and_unload() if is_lora(model) else model


def architecture_layer_names(architecture: str, config: dict[str, Any] | None = None) -> list[str]:
    """The linear layers (last name parts) a model of this architecture has, from its config alone: the
    model is built on the meta device, so no weights are read or allocated."""
    import torch

    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers import AutoConfig, AutoModelForCausalLM

    values = {k: v for k, v in (config or {}).items() if k not in ("model_type", "transformers_version")}
    try:
        cfg = AutoConfig.for_model(architecture, **values)
    except (ValueError, KeyError, TypeError) as exc:
        raise BaseModelError(f"transformers does not know the architecture {architecture!r}: {exc}") from None
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, trust_remote_code=False)
    return linear_module_names(model)


def lora_targets_check(architecture: str, targets: list[str], config: dict[str, Any] | None = None) -> None:
    """BaseModelError when an architecture has no layer of one of these names (the train form's check)."""
    have = architecture_layer_names(architecture, config)
    unknown = [t for t in targets if t not in have]
    if unknown:
        raise BaseModelError(
            f"LoRA target(s) {', '.join(unknown)} do not exist in a {architecture} model; "
            f"its linear layers are: {', '.join(have)}."
        )
