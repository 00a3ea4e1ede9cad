"""The Generator: a saved model loaded once, decoding prompts into SVG designs (best-of-N candidates,
per-request seeds, temperature, a token budget).

A `Generator` decodes through CTranslate2 (slm.decode.ct2) when the model directory holds its converted
copy (`ct2/`), made when the version is registered or an alias moves to it, never here: loading never
converts, so no request waits for a conversion. A model without one (not converted yet, or one that
CTranslate2 cannot convert or load) decodes through transformers instead, `fallback_reason` saying why,
as does a model already in memory (a training run validating itself: `Generator.from_loaded`).

`Generator.batch()` gives the continuous batch a long-lived loop feeds (slm.decode.loop: `add()` requests
whenever they arrive, `step()` until it is empty): CTranslate2's (slm.decode.ct2_batch) or transformers'
(slm.decode.hf_batch). `Generator.generate` and `decode_all` run the same code.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm.decode.ct2_batch import Ct2Batch
from slm.decode.hf_batch import DecodeBatch
from slm.decode.types import DecodeRequest, Sample
from slm.form.decode import decode as decode_form
from slm.form.spec import FormSpec
from slm.model import load_model, max_positions, pick_device, quiet_transformers
from slm.output_rows import suppressed_ids
from slm.tokenizer import load_tokenizer, tokenizer_dir

if TYPE_CHECKING:
    import torch

    from slm.decode.ct2 import Ct2Decoder

log = logging.getLogger(__name__)
ENGINES = ("ctranslate2", "transformers")
COMPUTE_TYPES = ("float32", "int8")  # CTranslate2's, as slm.decode.ct2 takes them


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
        self._suppressed: Any = None  # transformers decoding: the rows it masks (set in _setup)

    def _setup(
        self, model: Any, tokenizer: Any, form: FormSpec | None, device: str, num_threads: int | None
    ) -> None:
        import torch

        self._setup_common(tokenizer, form, device, num_threads)
        self.ct2 = None
        self._model = model
        self.max_positions = max_positions(model)
        self._dtype = torch.bfloat16 if self.device == "cuda" else None
        suppressed = suppressed_ids(model)
        self._suppressed = torch.tensor(suppressed, device=device) if suppressed else None
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
        logits = out.logits[:, -1, :].float()
        if self._suppressed is not None:  # rows the loss never trained (slm.output_rows)
            logits[:, self._suppressed] = float("-inf")
        return logits

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


NOT_CONVERTED = (
    "not converted for CTranslate2 yet (the conversion runs when the version is registered or an alias "
    "moves to it)"
)


def _load_ct2(
    model_dir: Path, tokenizer: Any, device: str | None, num_threads: int | None, compute_type: str
) -> Ct2Decoder:
    from slm.decode.ct2 import ConversionError, Ct2Decoder, converted_dir, failure_reason, is_converted

    if not is_converted(model_dir):  # converting is registration's job (and an alias move's), not ours
        raise ConversionError(failure_reason(model_dir) or NOT_CONVERTED)
    decoder = Ct2Decoder(
        converted_dir(model_dir),
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
