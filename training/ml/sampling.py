"""Batched generation: every prompt x candidate decoded together, one forward pass per new token, KV cache."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training.ml.model import load_model, max_positions, pick_device, quiet_transformers
from training.ml.tokenizer import build_prefix_ids, decode, load_tokenizer, tokenizer_dir

if TYPE_CHECKING:
    import torch


@dataclass
class Sample:
    text: str
    tokens: int  # generated tokens, [eos] excluded
    finished: bool  # ended with [eos] rather than running out of tokens


class Generator:
    """Loads a model directory once; `generate` can then be called many times."""

    def __init__(
        self, model_dir: str | Path, device: str | None = None, num_threads: int | None = None
    ) -> None:
        import torch

        self.model_dir = Path(model_dir)
        self.num_threads = num_threads  # None: leave torch's setting alone
        self.device = pick_device(device)
        self.tokenizer = load_tokenizer(tokenizer_dir(self.model_dir))
        with quiet_transformers():
            self.model = load_model(self.model_dir, self.device).eval()
        self.max_positions = max_positions(self.model)
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.eos_id = int(self.tokenizer.eos_token_id)
        self._dtype = torch.bfloat16 if self.device == "cuda" else None

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        seed: int = 0,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        context: str | None = None,
        top_k: int | None = None,
    ) -> list[list[Sample]]:
        """n candidates per prompt, all decoded in one left-padded batch; greedy when temperature == 0."""
        import torch

        if not prompts or n < 1:
            return [[] for _ in prompts]
        prefixes = build_prefix_ids(self.tokenizer, list(prompts), [context] * len(prompts))
        rows = [p for p in prefixes for _ in range(n)]
        width = max(len(r) for r in rows)
        budget = max(0, min(max_new_tokens, self.max_positions - width))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
        threads_before = torch.get_num_threads()
        if self.num_threads and self.num_threads != threads_before:
            torch.set_num_threads(self.num_threads)
        try:
            out_tokens = self._decode(ids, mask, budget, seed, temperature, top_k)
        finally:
            torch.set_num_threads(threads_before)
        samples = []
        for row in out_tokens:
            finished = self.eos_id in row
            body = row[: row.index(self.eos_id)] if finished else row
            samples.append(Sample(text=decode(self.tokenizer, body), tokens=len(body), finished=finished))
        return [samples[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _decode(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        budget: int,
        seed: int,
        temperature: float,
        top_k: int | None,
    ) -> list[list[int]]:
        import contextlib

        import torch

        from training.ml._hf import ensure_transformers

        ensure_transformers()
        from transformers import StaticCache

        dev = self.device
        ids, mask = ids.to(dev), mask.to(dev)
        # Left padding: positions count real tokens only, so padded rows see the same positions as unpadded.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        rng = torch.Generator(device=dev).manual_seed(seed)
        finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=dev)
        generated: list[torch.Tensor] = []
        autocast = torch.autocast("cuda", dtype=self._dtype) if self._dtype else contextlib.nullcontext()
        width = ids.shape[1]
        with torch.inference_mode(), autocast, quiet_transformers():
            # A static cache is preallocated once: no per-token concatenation of the whole cache.
            cache = StaticCache(config=self.model.config, max_cache_len=width + max(1, budget))
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                cache_position=torch.arange(width, device=dev),
            )
            logits = out.logits[:, -1, :].float()
            position = positions[:, -1:]
            for t in range(budget):
                nxt = self._pick(logits, temperature, top_k, rng)
                nxt = torch.where(finished, torch.full_like(nxt, self.pad_id), nxt)
                generated.append(nxt)
                finished |= nxt == self.eos_id
                if t == budget - 1 or bool(finished.all()):
                    break
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                position = position + 1
                out = self.model(
                    input_ids=nxt[:, None],
                    attention_mask=mask,
                    position_ids=position,
                    past_key_values=cache,
                    use_cache=True,
                    cache_position=torch.tensor([width + t], device=dev),
                )
                logits = out.logits[:, -1, :].float()
        if not generated:
            return [[] for _ in range(ids.shape[0])]
        table = torch.stack(generated, dim=1).tolist()
        return [[t for t in row if t != self.pad_id] for row in table]

    @staticmethod
    def _pick(
        logits: torch.Tensor, temperature: float, top_k: int | None, rng: torch.Generator
    ) -> torch.Tensor:
        import torch

        if temperature <= 0:
            return logits.argmax(dim=-1)
        logits = logits / temperature
        if top_k:
            kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=rng).squeeze(-1)
