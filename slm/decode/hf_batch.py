"""transformers' continuous batch: iteration-level batching, one forward pass per new token for every row
in flight, with a KV cache; requests join a running batch between two steps and leave it the step they
finish (the transformers fallback, and a model already in memory)."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slm.decode.types import DecodeRequest, Sample
from slm.model import quiet_transformers
from slm.tokenizer import build_prefix_ids, decode

if TYPE_CHECKING:
    import torch


@dataclass
class _Group:
    """One request in flight: its candidates' tokens so far and how many rows still decode."""

    key: Hashable
    request: DecodeRequest
    tokens: list[list[int]]
    finished: list[bool]
    open_rows: int
    rng: Any = None  # torch.Generator for sampled requests


@dataclass
class _Row:
    group: _Group
    candidate: int
    budget: int  # tokens it may emit, [eos] included


@dataclass
class DecodeBatch:
    """Rows of many requests decoded together. Rows are left-padded to one cache length; positions count
    each row's real tokens only, so a row sees the same positions whatever it is batched with. Padding
    columns that no remaining row needs are trimmed, so the cache stays as long as the longest row."""

    gen: Any  # the Generator (slm.decode.sampling) it decodes with
    rows: list[_Row] = field(default_factory=list)
    _cache: Any = None  # a DynamicCache: per layer keys/values [rows, heads, length, head_dim]
    _mask: Any = None  # [rows, length] 1 = real token
    _pos: Any = None  # [rows, 1] position of each row's last token
    _logits: Any = None  # [rows, vocab] for the next token
    _groups: int = 0

    def __len__(self) -> int:
        """Requests in flight."""
        return self._groups

    def __bool__(self) -> bool:
        return bool(self.rows)

    def add(self, items: Sequence[tuple[Hashable, DecodeRequest]]) -> dict[Hashable, list[Sample]]:
        """Prefill new requests (one forward pass for all of them) and merge them into the batch. Returns
        the requests that are done at once (no room left for any token, or n < 1)."""
        import torch

        g = self.gen
        done: dict[Hashable, list[Sample]] = {}
        prefixes = build_prefix_ids(g.tokenizer, [r.prompt for _, r in items], [r.context for _, r in items])
        new_rows: list[_Row] = []
        new_ids: list[list[int]] = []
        for (key, req), prefix in zip(items, prefixes, strict=True):
            budget = max(0, min(req.max_new_tokens, g.max_positions - len(prefix)))
            if req.n < 1 or budget == 0:
                done[key] = [Sample(text="", tokens=0, finished=False) for _ in range(max(0, req.n))]
                continue
            rng = None
            if req.temperature > 0:
                rng = torch.Generator(device=g.device).manual_seed(int(req.seed))
            group = _Group(key, req, [[] for _ in range(req.n)], [False] * req.n, req.n, rng)
            self._groups += 1
            for c in range(req.n):
                new_rows.append(_Row(group, c, budget))
                new_ids.append(prefix)
        if not new_rows:
            return done
        width = max(len(r) for r in new_ids)
        ids = torch.full((len(new_ids), width), g.pad_id, dtype=torch.long)
        mask = torch.zeros((len(new_ids), width), dtype=torch.long)
        for i, r in enumerate(new_ids):
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
        ids, mask = ids.to(g.device), mask.to(g.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with self._forward_context():
            cache = _new_cache()
            logits = g.forward(ids, mask, positions, cache, 0)
        self._merge(cache, mask, positions[:, -1:], logits)
        self.rows += new_rows
        return done

    def step(self) -> dict[Hashable, list[Sample]]:
        """Pick one token for every row, retire the rows that ended, and run the forward pass for the rest.
        Returns the requests whose every candidate is now done."""
        import torch

        if not self.rows:
            return {}
        g = self.gen
        nxt = self._pick(self._logits)
        picked = nxt.tolist()
        keep: list[int] = []
        done: dict[Hashable, list[Sample]] = {}
        for i, (row, token) in enumerate(zip(self.rows, picked, strict=True)):
            group = row.group
            if token == g.eos_id:
                group.finished[row.candidate] = True
            else:
                group.tokens[row.candidate].append(token)
                if len(group.tokens[row.candidate]) < row.budget:
                    keep.append(i)
                    continue
            group.open_rows -= 1
            if group.open_rows == 0:
                self._groups -= 1
                done[group.key] = [
                    g.sample(decode(g.tokenizer, t), len(t), f)
                    for t, f in zip(group.tokens, group.finished, strict=True)
                ]
        if not keep:
            self._reset()
            return done
        if len(keep) < len(self.rows):
            index = torch.tensor(keep, device=g.device)
            self.rows = [self.rows[i] for i in keep]
            nxt = nxt.index_select(0, index)
            self._select(index)
        length = self._mask.shape[1]
        self._mask = torch.cat([self._mask, torch.ones_like(self._mask[:, :1])], dim=1)
        self._pos = self._pos + 1
        with self._forward_context():
            self._logits = g.forward(nxt[:, None], self._mask, self._pos, self._cache, length)
        return done

    # --- internals -------------------------------------------------------------------------------------

    def _forward_context(self) -> contextlib.ExitStack:
        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.gen._dtype is not None:
            stack.enter_context(torch.autocast("cuda", dtype=self.gen._dtype))
        stack.enter_context(quiet_transformers())
        return stack

    def _pick(self, logits: torch.Tensor) -> torch.Tensor:
        import torch

        nxt = logits.argmax(dim=-1)
        sampled: dict[int, list[int]] = {}
        for i, row in enumerate(self.rows):
            if row.group.rng is not None:
                sampled.setdefault(id(row.group), []).append(i)
        for indices in sampled.values():
            group = self.rows[indices[0]].group
            req = group.request
            index = torch.tensor(indices, device=logits.device)
            part = logits.index_select(0, index) / req.temperature
            if req.top_k:
                kth = torch.topk(part, min(req.top_k, part.shape[-1]), dim=-1).values[:, -1:]
                part = part.masked_fill(part < kth, float("-inf"))
            probs = torch.softmax(part, dim=-1)
            nxt[index] = torch.multinomial(probs, 1, generator=group.rng).squeeze(-1)
        return nxt

    def _merge(self, cache: Any, mask: Any, pos: Any, logits: Any) -> None:
        """Join prefilled rows to the batch, left-padding whichever side is shorter."""
        import torch
        import torch.nn.functional as F

        if self._cache is None:
            self._cache, self._mask, self._pos, self._logits = cache, mask, pos, logits
            return
        old, new = self._mask.shape[1], mask.shape[1]
        width = max(old, new)

        def pad(t: Any, by: int) -> Any:  # left-pad the length axis (-2 for K/V, -1 for the mask)
            if by == 0:
                return t
            return F.pad(t, (0, 0, by, 0)) if t.dim() == 4 else F.pad(t, (by, 0))

        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([pad(mine.keys, width - old), pad(theirs.keys, width - new)])
            mine.values = torch.cat([pad(mine.values, width - old), pad(theirs.values, width - new)])
        self._mask = torch.cat([pad(self._mask, width - old), pad(mask, width - new)])
        self._pos = torch.cat([self._pos, pos])
        self._logits = torch.cat([self._logits, logits])

    def _select(self, index: Any) -> None:
        """Keep only these rows, then drop leading columns that are padding for every row left."""
        mask = self._mask.index_select(0, index)
        start = int(mask.any(dim=0).int().argmax())
        self._mask = mask[:, start:]
        for layer in self._cache.layers:
            layer.keys = layer.keys.index_select(0, index)[:, :, start:]
            layer.values = layer.values.index_select(0, index)[:, :, start:]
        self._pos = self._pos.index_select(0, index)

    def _reset(self) -> None:
        self.rows = []
        self._cache = self._mask = self._pos = self._logits = None


def _new_cache() -> Any:
    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers import DynamicCache

    # Its layers' `keys`/`values` are plain tensors that DecodeBatch pads, joins and selects rows of.
    return DynamicCache()
