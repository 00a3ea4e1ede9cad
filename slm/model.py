"""A tiny causal LM built from a transformers config (GPT-2 or Llama style), from scratch or from a directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast


@dataclass
class ModelConfig:
    """Defaults give a ~0.9M-parameter GPT-2: big enough for the synthetic grammar, fast on 2 CPU cores."""

    arch: str = "gpt2"  # "gpt2" or "llama"
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 320  # longest [bos] prompt [sep] svg [eos] sequence the model can see
    # Residual and embedding dropout. Attention weights get none: PyTorch's fused (flash) attention kernel
    # on CPU refuses dropout, and the fallback materialises every L x L score matrix (2.2x slower and 1.7x
    # the memory at 512 tokens); see without_attention_dropout.
    dropout: float = 0.0  # the synthetic corpus is effectively infinite: regularisation only slows learning
    mlp_ratio: int = 4


def build_model(config: ModelConfig, tokenizer: PreTrainedTokenizerFast) -> PreTrainedModel:
    """A freshly initialised model whose vocabulary and special ids match the tokenizer."""
    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    vocab = len(tokenizer)
    if config.arch == "gpt2":
        cfg = GPT2Config(
            vocab_size=vocab,
            n_positions=config.n_positions,
            n_embd=config.n_embd,
            n_layer=config.n_layer,
            n_head=config.n_head,
            n_inner=config.mlp_ratio * config.n_embd,
            activation_function="gelu_pytorch_tanh",  # fused kernel; "gelu_new" is several slow ops
            resid_pdrop=config.dropout,
            embd_pdrop=config.dropout,
            attn_pdrop=0.0,  # the fused attention kernel (ModelConfig.dropout)
            tie_word_embeddings=True,
            **ids,
        )
        return GPT2LMHeadModel(cfg)
    if config.arch == "llama":
        cfg = LlamaConfig(
            vocab_size=vocab,
            hidden_size=config.n_embd,
            intermediate_size=config.mlp_ratio * config.n_embd,
            hidden_act="silu",
            num_hidden_layers=config.n_layer,
            num_attention_heads=config.n_head,
            num_key_value_heads=config.n_head,
            max_position_embeddings=config.n_positions,
            attention_dropout=0.0,  # the fused attention kernel (ModelConfig.dropout)
            tie_word_embeddings=True,
            **ids,
        )
        return LlamaForCausalLM(cfg)
    raise ValueError(f"unknown arch {config.arch!r} (expected 'gpt2' or 'llama')")


def without_attention_dropout(model: PreTrainedModel) -> PreTrainedModel:
    """No dropout on attention weights (GPT-2's attn_pdrop, Llama-style attention_dropout), so training
    takes the fused attention kernel; a model saved before this (or a base model) may still carry it.
    Residual and embedding dropout are left as they are."""
    import torch

    config = getattr(model, "config", None)
    for name in ("attn_pdrop", "attention_dropout"):
        if getattr(config, name, None):
            setattr(config, name, 0.0)
    for module in model.modules():
        if isinstance(getattr(module, "attn_dropout", None), torch.nn.Dropout):
            module.attn_dropout.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0
    return model


def load_model(path: str | Path, device: str | None = None) -> PreTrainedModel:
    """A model saved with save_pretrained (a final dir or a checkpoint dir)."""
    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers import AutoModelForCausalLM

    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(str(path), trust_remote_code=False)
    if device:
        model.to(device)
    return model


def max_positions(model: PreTrainedModel) -> int:
    cfg = model.config
    return int(getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", 1024))


def count_parameters(model: PreTrainedModel) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars (weights loading/saving) inside our calls only."""
    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
