"""The language-model loss on the SVG part of each sequence, for training and evaluation."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slm.output_rows import output_rows
from slm.train.data import IGNORE, EncodedExample, collate

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel


def lm_loss(model: PreTrainedModel, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over labelled positions only.

    The LM head runs only where there is a target (the SVG part), which saves the head's cost on
    prompt and padding positions; and, for a model that records them (slm.output_rows), only over the
    rows that can be a target.
    """
    import torch.nn.functional as F

    hidden = model.base_model(input_ids=ids, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    rows = output_rows(model)
    if rows is None:
        logits = model.get_output_embeddings()(hidden[:, :-1][keep])
        return F.cross_entropy(logits.float(), targets[keep])
    head = model.get_output_embeddings()
    weight = head.weight.index_select(0, rows.ids)
    bias = head.bias.index_select(0, rows.ids) if head.bias is not None else None
    logits = F.linear(hidden[:, :-1][keep], weight, bias)
    return F.cross_entropy(logits.float(), rows.position[targets[keep]], ignore_index=-1)


EVAL_TOKENS = 8192  # padded positions an evaluation batch holds at most: its logits are that x vocabulary
# Sequences a validation loss reads at most: an evenly spread sample of a larger split. Its standard error
# is already far below the differences it decides, and the loss of a million-example set's 5% split
# (50,000 sequences, all in memory at once and minutes of CPU per check) no longer grows with the data.
EVAL_SEQUENCES = 4096


def evaluation_loss(
    model: PreTrainedModel,
    encoded: Sequence[EncodedExample],
    pad_id: int,
    batch_size: int = 64,
    max_tokens: int = EVAL_TOKENS,
    limit: int = EVAL_SEQUENCES,
) -> float | None:
    """Token-weighted mean loss over the SVG parts of `encoded`, or of `limit` sequences evenly spread
    through it when it holds more; None when there is nothing to evaluate. Batches hold at most
    `batch_size` sequences and `max_tokens` padded positions (one long sequence still fits)."""
    import torch

    if not encoded:
        return None
    device = next(model.parameters()).device
    size = len(encoded)
    picked = [encoded[i * size // limit] for i in range(limit)] if size > limit else list(encoded)
    picked.sort(key=lambda e: len(e.ids))
    total = 0.0
    count = 0
    was_training = model.training
    model.eval()
    with torch.no_grad(), autocast(device.type):
        for batch in _eval_batches(picked, batch_size, max_tokens):
            ids, labels, _ = collate(batch, pad_id)
            n = int((labels[:, 1:] != IGNORE).sum())
            loss = lm_loss(model, ids.to(device), labels.to(device))
            total += float(loss) * n
            count += n
    model.train(was_training)
    return total / max(1, count)


def _eval_batches(
    ordered: list[EncodedExample], batch_size: int, max_tokens: int
) -> list[list[EncodedExample]]:
    """Sequences sorted by length, cut where a batch would pass either limit."""
    batches: list[list[EncodedExample]] = [[]]
    for e in ordered:
        full = len(batches[-1]) >= batch_size or (len(batches[-1]) + 1) * len(e.ids) > max_tokens
        if batches[-1] and full:
            batches.append([])
        batches[-1].append(e)
    return [b for b in batches if b]


def autocast(device_type: str, cpu_bf16: bool = False) -> Any:
    """bfloat16 autocast on CUDA; on a CPU with native bfloat16 matrix instructions too when asked
    (weights, optimiser state and the loss stay float32)."""
    import torch

    if device_type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device_type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_bf16_supported() -> bool:
    """True where oneDNN runs bfloat16 matrix products natively (AVX512-BF16 or AMX): there, training
    under bfloat16 autocast took 1.6x as many steps a second as float32 (README, "Real design data")."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
