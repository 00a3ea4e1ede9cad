"""A lean decode forward for GPT-2 models: the same weights and the same arithmetic as transformers'
GPT2LMHeadModel, without its per-call machinery.

Why: our models are tiny (a few million parameters), so a decode step is mostly Python around the
matrix products: transformers' forward builds masks, walks config properties, output dataclasses and
module hooks for every token. This one does the products, the attention and the layer norms
directly, for the rows of a continuous batch (training.ml.sampling.DecodeBatch), and only computes
logits for the last position. It reads the model's own parameters (no copy), so it is always the
loaded weights. Models it cannot serve exactly (another architecture or GPT-2 options it does not
implement) return None from `lean_forward`, and DecodeBatch uses the transformers forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class KV:
    keys: torch.Tensor
    values: torch.Tensor


@dataclass
class LeanCache:
    """Per layer keys/values [rows, heads, length, head_dim]: the shape DecodeBatch pads, joins and
    selects rows of (as it does a transformers DynamicCache's layers)."""

    layers: list[KV] = field(default_factory=list)


def supports(model: Any) -> bool:
    cfg = getattr(model, "config", None)
    return bool(
        cfg is not None
        and getattr(cfg, "model_type", None) == "gpt2"
        and type(model).__name__ == "GPT2LMHeadModel"
        and getattr(cfg, "scale_attn_weights", True)
        and not getattr(cfg, "scale_attn_by_inverse_layer_idx", False)
        and not getattr(cfg, "reorder_and_upcast_attn", False)
        and not getattr(cfg, "add_cross_attention", False)
        and cfg.n_embd % cfg.n_head == 0
    )


class LeanGpt2:
    """forward(ids, mask, positions, cache) -> logits of each row's last position (float32)."""

    def __init__(self, model: Any) -> None:
        t = model.transformer
        cfg = model.config
        self.heads = int(cfg.n_head)
        self.embed = int(cfg.n_embd)
        self.head_dim = self.embed // self.heads
        self.eps = float(cfg.layer_norm_epsilon)
        self.wte, self.wpe, self.ln_f = t.wte.weight, t.wpe.weight, t.ln_f
        self.lm_head = model.lm_head.weight
        # transformers' own activation function (gelu_pytorch_tanh is F.gelu's tanh form, called directly)
        tanh = getattr(cfg, "activation_function", None) == "gelu_pytorch_tanh"
        self.acts = [_gelu_tanh if tanh else b.mlp.act for b in t.h]
        # Per block: (weight, bias) of ln_1, c_attn, attn c_proj, ln_2, c_fc, mlp c_proj, in that order.
        self.blocks = [
            tuple(
                p
                for m in (b.ln_1, b.attn.c_attn, b.attn.c_proj, b.ln_2, b.mlp.c_fc, b.mlp.c_proj)
                for p in (m.weight, m.bias)
            )
            for b in t.h
        ]

    def new_cache(self) -> LeanCache:
        return LeanCache()

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: LeanCache
    ) -> Any:
        """`ids` [rows, new], `mask` [rows, past + new] (1 = real token), `positions` [rows, new];
        appends the new keys/values to `cache`."""
        import torch
        import torch.nn.functional as F

        rows, new = ids.shape
        e, h, d = self.embed, self.heads, self.head_dim
        x = F.embedding(ids, self.wte) + F.embedding(positions, self.wpe)
        total = mask.shape[1]
        keep = mask.bool()[:, None, None, :]  # [rows, 1, 1, keys]
        if new > 1:  # prefill: causal as well, and every query may see itself (no row is all masked)
            q_at = torch.arange(total - new, total, device=ids.device)[:, None]
            k_at = torch.arange(total, device=ids.device)[None, :]
            keep = (keep & (k_at <= q_at)) | (k_at == q_at)
        fresh = not cache.layers
        for i, (g1, b1, wa, ba, wp, bp, g2, b2, wf, bf, wm, bm) in enumerate(self.blocks):
            a = F.layer_norm(x, (e,), g1, b1, self.eps)
            qkv = torch.addmm(ba, a.view(-1, e), wa).view(rows, new, 3, h, d)
            q, k, v = qkv.unbind(2)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            if fresh:
                cache.layers.append(KV(k, v))
            else:
                layer = cache.layers[i]
                k = layer.keys = torch.cat([layer.keys, k], dim=2)
                v = layer.values = torch.cat([layer.values, v], dim=2)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            o = torch.addmm(bp, o.transpose(1, 2).reshape(-1, e), wp).view(rows, new, e)
            x = x + o
            m = F.layer_norm(x, (e,), g2, b2, self.eps)
            m = self.acts[i](torch.addmm(bf, m.view(-1, e), wf))
            x = x + torch.addmm(bm, m, wm).view(rows, new, e)
        last = self.ln_f(x[:, -1, :])
        return (last @ self.lm_head.t()).float()


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.gelu(x, approximate="tanh")


def lean_forward(model: Any) -> LeanGpt2 | None:
    return LeanGpt2(model) if supports(model) else None
