"""transformers resolves its names lazily on first use, and that is not thread-safe: two worker threads
doing their first import at once can get ImportError. Resolve every name we use once, under a lock."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_ready = False
NAMES = (
    "PreTrainedTokenizerFast",
    "PreTrainedModel",
    "GPT2Config",
    "GPT2LMHeadModel",
    "LlamaConfig",
    "LlamaForCausalLM",
    "AutoModelForCausalLM",
    "StaticCache",
    "DynamicCache",
)


def ensure_transformers() -> None:
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        import transformers
        from transformers.utils import logging  # noqa: F401

        for name in NAMES:
            getattr(transformers, name)
        _ready = True
