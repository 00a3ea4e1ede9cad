"""Generation: prompts in, SVG designs out, with best-of-N candidates, per-request seeds, temperature and
a token budget.

A `Generator` decodes through CTranslate2 (slm.decode.ct2) for every architecture it converts (GPT-2,
Llama and the others its TransformersConverter supports): greedy requests share one batch call, and each
sampled request decodes on a replica seeded with its own seed, so its designs do not depend on what it
was batched with. The model directory's converted copy (`ct2/`) is made at registration, or here on the
first load of a version registered before. A model CTranslate2 cannot convert or load decodes through
transformers instead (`fallback_reason` says why), as does a model already in memory (a training run
validating itself: `Generator.from_loaded`).

The transformers path is iteration-level ("continuous") batching: one forward pass per new token for
every row in flight, with a KV cache; requests join a running batch between two steps and leave it the
step they finish. `Generator.batch()` gives the batch a long-lived worker feeds (`add()` requests whenever
they arrive, `step()` until it is empty) on either engine; `Generator.generate` and `decode_all` run the
same code.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm.form.decode import decode as decode_form
from slm.form.spec import FormSpec
from slm.model import load_model, max_positions, pick_device, quiet_transformers
from slm.tokenizer import build_prefix_ids, decode, load_tokenizer, tokenizer_dir

if TYPE_CHECKING:
    import torch

    from slm.decode.ct2 import Ct2Decoder

log = logging.getLogger(__name__)
ENGINES = ("ctranslate2", "transformers")
COMPUTE_TYPES = ("float32", "int8")  # CTranslate2's, as slm.decode.ct2 takes them


@dataclass
class Sample:
    text: str  # the design as SVG (decoded from the model form for models that write one)
    tokens: int  # generated tokens, [eos] excluded
    finished: bool  # ended with [eos] rather than running out of tokens
    form: str = ""  # what the model wrote, for models that write the model form
    dropped: list[str] = field(default_factory=list)  # malformed pieces the decoding left out


@dataclass(frozen=True)
class DecodeRequest:
    """One prompt and how to decode it: `n` candidates, greedy when temperature == 0, else sampled with
    its own seeded generator (so a request's samples do not depend on what else shares the batch)."""

    prompt: str
    n: int = 1
    seed: int = 0
    temperature: float = 0.0
    max_new_tokens: int = 256
    context: str | None = None
    top_k: int | None = None


class Generator:
    """Loads a model directory once; `generate` can then be called many times.

    `engine`: "ctranslate2" (the default) decodes through CTranslate2 where the model converts and loads,
    else through transformers with `fallback_reason` saying why; "transformers" always uses transformers.
    `compute_type`: CTranslate2's, "float32" (the default) or "int8". `num_threads`: threads of a decode
    call (CTranslate2's intra threads, or torch's; None: the library's default)."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str | None = None,
        num_threads: int | None = None,
        *,
        engine: str = "ctranslate2",
        compute_type: str = "float32",
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        if compute_type not in COMPUTE_TYPES:
            raise ValueError(f"compute type {compute_type!r} is not one of {', '.join(COMPUTE_TYPES)}")
        self.model_dir = Path(model_dir)
        tokenizer = load_tokenizer(tokenizer_dir(self.model_dir))
        form = read_form(self.model_dir)
        self.fallback_reason: str | None = None
        if engine == "ctranslate2":
            try:
                ct2 = _load_ct2(self.model_dir, tokenizer, device, num_threads, compute_type)
                positions = _config_positions(self.model_dir)
            except Exception as exc:  # noqa: BLE001 - any failure means: serve through transformers
                self.fallback_reason = str(exc) or type(exc).__name__
                log.warning(
                    "model %s decodes through transformers: CTranslate2 could not serve it (%s)",
                    self.model_dir,
                    self.fallback_reason,
                )
            else:
                self._setup_common(tokenizer, form, ct2.device, num_threads)
                self.ct2: Ct2Decoder | None = ct2
                self._model: Any = None
                self.max_positions = positions
                return
        device = pick_device(device)
        with quiet_transformers():
            model = load_model(self.model_dir, device).eval()
        self._setup(model, tokenizer, form, device, num_threads)

    @classmethod
    def from_loaded(
        cls,
        model: Any,
        tokenizer: Any,
        form: FormSpec | None,
        device: str,
        num_threads: int | None = None,
    ) -> Generator:
        """A generator on a model already in memory (a training run validating itself), decoding through
        transformers. The caller puts the model in eval mode and back."""
        gen = cls.__new__(cls)
        gen.model_dir = Path()
        gen.fallback_reason = None
        gen._setup(model, tokenizer, form, device, num_threads)
        return gen

    def _setup_common(
        self, tokenizer: Any, form: FormSpec | None, device: str, num_threads: int | None
    ) -> None:
        self.tokenizer, self.form, self.device = tokenizer, form, device
        self.num_threads = num_threads  # None: leave the library's setting alone
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.eos_id = int(self.tokenizer.eos_token_id)

    def _setup(
        self, model: Any, tokenizer: Any, form: FormSpec | None, device: str, num_threads: int | None
    ) -> None:
        import torch

        self._setup_common(tokenizer, form, device, num_threads)
        self.ct2 = None
        self._model = model
        self.max_positions = max_positions(model)
        self._dtype = torch.bfloat16 if self.device == "cuda" else None
        # transformers renamed `past_key_values` to `cache` (the old name goes in 5.40): use what it takes.
        params = inspect.signature(type(model).forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"

    @property
    def engine(self) -> str:
        return "ctranslate2" if self.ct2 is not None else "transformers"

    @property
    def compute_type(self) -> str:
        return self.ct2.compute_type if self.ct2 is not None else "float32"

    @property
    def model(self) -> Any:
        """The transformers model (what the evaluation's loss reads): loaded on first use when decoding
        goes through CTranslate2."""
        if self._model is None:
            with quiet_transformers():
                self._model = load_model(self.model_dir, pick_device(None)).eval()
        return self._model

    def forward(self, ids: Any, mask: Any, positions: Any, cache: Any, past: int) -> torch.Tensor:
        """transformers' logits of each row's last position for `ids` after `past` cached columns
        (float32); the new keys/values are appended to `cache`."""
        import torch

        extra = {"cache_position": torch.tensor([past], device=self.device)} if past else {}
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **{self.cache_arg: cache},
            **extra,
        )
        return out.logits[:, -1, :].float()

    def sample(self, text: str, tokens: int, finished: bool) -> Sample:
        """What the model wrote, as SVG: the model form decoded, or the text itself for raw-SVG models."""
        if self.form is None:
            return Sample(text=text, tokens=tokens, finished=finished)
        decoded = decode_form(text, self.form)
        return Sample(decoded.svg, tokens, finished, form=text, dropped=decoded.dropped)

    def batch(self) -> DecodeBatch | Ct2Batch:
        """An empty batch on this model: CTranslate2's, or transformers' continuous batch."""
        return Ct2Batch(self) if self.ct2 is not None else DecodeBatch(self)

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
        """n candidates per prompt, all decoded together; greedy when temperature == 0."""
        if not prompts or n < 1:
            return [[] for _ in prompts]
        request = {
            "n": n,
            "seed": seed,
            "temperature": temperature,
            "max_new_tokens": max_new_tokens,
            "context": context,
            "top_k": top_k,
        }
        return self.decode_all([DecodeRequest(p, **request) for p in prompts])  # type: ignore[arg-type]

    def decode_all(self, requests: Sequence[DecodeRequest]) -> list[list[Sample]]:
        """Every request decoded in one batch; their samples in the same order."""
        results: dict[Hashable, list[Sample]] = {}
        with self.threads():
            batch = self.batch()
            results.update(batch.add(list(enumerate(requests))))
            while batch:
                results.update(batch.step())
        return [results[i] for i in range(len(requests))]

    @contextlib.contextmanager
    def threads(self) -> Any:
        """Run with `num_threads` torch threads when one was given, restoring the setting after
        (CTranslate2 takes its threads when it loads)."""
        if self.ct2 is not None:
            yield
            return
        import torch

        before = torch.get_num_threads()
        if self.num_threads and self.num_threads != before:
            torch.set_num_threads(self.num_threads)
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


def _load_ct2(
    model_dir: Path, tokenizer: Any, device: str | None, num_threads: int | None, compute_type: str
) -> Ct2Decoder:
    from slm.decode.ct2 import ConversionError, Ct2Decoder, convert

    path = convert(model_dir)
    decoder = Ct2Decoder(
        path,
        eos_id=int(tokenizer.eos_token_id),
        device=device,
        compute_type=compute_type,
        threads=num_threads or 0,
    )
    if len(decoder.vocabulary) < len(tokenizer):
        raise ConversionError(
            f"the converted vocabulary has {len(decoder.vocabulary)} tokens, the tokenizer {len(tokenizer)}"
        )
    return decoder


def _config_positions(model_dir: Path) -> int:
    """The model's context, from the converted model's source config (an adapter's merged base)."""
    path = model_dir / "ct2" / "source_config.json"
    if not path.is_file():
        path = model_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    return int(config.get("n_positions") or config.get("max_position_embeddings") or 1024)


class Ct2Batch:
    """Requests decoded through CTranslate2, with DecodeBatch's add/step interface: `add` takes them,
    `step` decodes everything added since the last step in one call and returns it all (greedy rows
    share the call; each sampled request decodes on a replica seeded with its own seed). Requests that
    arrive during a call join the next one."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.rows: list[Hashable] = []  # one entry per candidate, for the batch loop's row budget
        self._pending: list[tuple[Hashable, DecodeRequest, list[int], int]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, items: Sequence[tuple[Hashable, DecodeRequest]]) -> dict[Hashable, list[Sample]]:
        g = self.gen
        done: dict[Hashable, list[Sample]] = {}
        prefixes = build_prefix_ids(g.tokenizer, [r.prompt for _, r in items], [r.context for _, r in items])
        for (key, req), prefix in zip(items, prefixes, strict=True):
            budget = max(0, min(req.max_new_tokens, g.max_positions - len(prefix)))
            if req.n < 1 or budget == 0:
                done[key] = [Sample(text="", tokens=0, finished=False) for _ in range(max(0, req.n))]
                continue
            self._pending.append((key, req, prefix, budget))
            self.rows += [key] * req.n
        return done

    def step(self) -> dict[Hashable, list[Sample]]:
        from slm.decode.ct2 import Ct2Job

        g = self.gen
        pending, self._pending, self.rows = self._pending, [], []
        if not pending:
            return {}
        assert g.ct2 is not None
        jobs = [
            Ct2Job(prefix, budget, r.n, float(r.temperature), int(r.seed), r.top_k)
            for _, r, prefix, budget in pending
        ]
        results = g.ct2.decode(jobs)
        return {
            key: [g.sample(decode(g.tokenizer, ids), len(ids), finished) for ids, finished in candidates]
            for (key, *_), candidates in zip(pending, results, strict=True)
        }


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

    gen: Generator
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


def _manifest_config(model_dir: str | Path) -> dict[str, Any]:
    manifest = Path(model_dir) / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        config = json.loads(manifest.read_text(encoding="utf-8")).get("config", {})
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def read_form(model_dir: str | Path) -> FormSpec | None:
    """How a saved model writes designs (its manifest's config.svg_form); None for raw SVG text."""
    return FormSpec.from_dict(_manifest_config(model_dir).get("svg_form"))


def read_consensus(model_dir: str | Path) -> tuple[int, float]:
    """How many candidates a saved model's design is chosen from by consensus (0: greedy), and at which
    temperature they are sampled (its manifest's config.consensus, config.consensus_temperature)."""
    config = _manifest_config(model_dir)
    try:
        return max(0, int(config.get("consensus") or 0)), float(config.get("consensus_temperature") or 1.0)
    except (TypeError, ValueError):
        return 0, 1.0
