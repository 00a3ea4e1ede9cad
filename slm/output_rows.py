"""The rows of a model's output layer that can be a target.

A model-form model never writes a prompt piece: its designs are form units and the end marker. Yet the
prompt's BPE pieces are most of a small set's vocabulary (4,096 of MDI's 6,975 rows), and with them every
target position paid for logits and a softmax over rows that are never right. So a new form model
trains its loss over the unit rows only, and records the others in its generation config's
`suppress_tokens` (transformers' own field, which its `generate()` honours). The decoders read the same
list: transformers' logits are masked (slm.decode.sampling), and the CTranslate2 conversion gives those
rows a large negative bias (slm.decode.ct2), so no decoder can pick a row the loss never trained.

A model without the list (raw-SVG models, base models, fine-tunes, models trained before this) keeps
every row, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

NEVER = -1e9  # CTranslate2's projection bias on suppressed rows: their probability is exactly 0


def never_targets(tokenizer: PreTrainedTokenizerFast, pieces: Iterable[str]) -> list[int]:
    """Every id but the end marker and the `pieces` (slm.tokenizer.unit_pieces): the rows a model-form
    design never writes."""
    vocab = tokenizer.get_vocab()
    keep = {tokenizer.eos_token_id} | {vocab[p] for p in pieces if p in vocab}
    return sorted(set(range(len(tokenizer))) - keep)


def record(model: PreTrainedModel, suppressed: list[int] | None) -> None:
    """Save the list with the model (generation_config.json); None or empty: every row may be written."""
    model.generation_config.suppress_tokens = list(suppressed) if suppressed else None


def suppressed_ids(model: Any) -> list[int]:
    config = getattr(model, "generation_config", None)
    return [int(i) for i in (getattr(config, "suppress_tokens", None) or [])]


@dataclass(frozen=True)
class OutputRows:
    ids: torch.Tensor  # the rows the loss computes, ascending
    # vocabulary id -> its place among `ids`, -1 for the others: a validation design's unit that the
    # training data never had is split into prompt pieces, which the loss then skips
    position: torch.Tensor


def output_rows(model: Any) -> OutputRows | None:
    """The model's target rows (cached on the model), or None when every row is one."""
    suppressed = suppressed_ids(model)
    if not suppressed:
        return None
    key = (len(suppressed), suppressed[0], suppressed[-1])
    cached = getattr(model, "_slm_output_rows", None)
    weight = model.get_output_embeddings().weight
    if cached is not None and cached[0] == key and cached[1].ids.device == weight.device:
        return cached[1]
    import torch

    vocab = weight.shape[0]
    mask = torch.ones(vocab, dtype=torch.bool)
    mask[torch.tensor([i for i in suppressed if i < vocab], dtype=torch.long)] = False
    ids = mask.nonzero().squeeze(1)
    position = torch.full((vocab,), -1, dtype=torch.long)
    position[ids] = torch.arange(len(ids))
    rows = OutputRows(ids.to(weight.device), position.to(weight.device))
    object.__setattr__(model, "_slm_output_rows", (key, rows))
    return rows
