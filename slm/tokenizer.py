"""The tokenizer: trained offline with `tokenizers`, saved and loaded through transformers.

Designs are written in the model form (slm.form): units separated by spaces. Every unit a form
can use (`<path`, `M`, `R01`, `fill:none`, `sw:4`, every grid coordinate, and every unit of the training
forms) is put in the vocabulary whole, and the BPE model looks a whole piece up before merging
(`ignore_merges`), so each unit is exactly ONE token whatever BPE learned. BPE itself is trained on the
prompt text only. Raw SVG text (models trained before the model form) still tokenizes losslessly: tag
and attribute openings, numbers with their separator and hex colours are pieces of their own.
The `Fuse` decoder concatenates tokens, so detokenisation is lossless.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

BOS = "<|bos|>"
EOS = "<|eos|>"
PAD = "<|pad|>"
SEP = "<|sep|>"
UNK = "<|unk|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, SEP, UNK)

_PAINT_KEYS = "fill|stroke|sw|cap|join|rule|fop|sop|dash"
# Order matters: earlier alternatives win at the same position.
PRETOKEN_PATTERN = "|".join(
    [
        r" ?<[a-z]+(?=\s|$)",  # a form's element opening: `<path`
        rf" ?(?:{_PAINT_KEYS}):[^\s\"<>=]+",  # a form's paint unit: `fill:none`, `sw:4`
        r" ?[AR][01][01](?=\s|$)",  # a form's arc with its flags
        r" ?-?\d+(?=\s|$)",  # an integer on its own: a grid coordinate
        r"https?://[^\"\s<>]*",  # namespace URLs as one piece (raw SVG)
        r"\"?\s*[A-Za-z_:][-\w:.]*=\"",  # `" cx="`: quote + attribute name + `="` (raw SVG)
        r"</?[A-Za-z][-\w:.]*>?",  # `<circle`, `</svg>`, `<g>` (raw SVG)
        r"\"?\s*/?>",  # `"/>`, `">`, `>` (raw SVG)
        r"#[0-9A-Fa-f]{3,8}(?![0-9A-Za-z])",  # hex colours
        r"[A-Za-z]+\(",  # transform functions: `translate(`
        r" ?-?\d+,-?\d+(?![\d.])",  # an integer point `x,y`
        r"[ ,]?-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?",  # numbers with their separator
        r" ?[A-Za-z]+",  # words and path commands, GPT-2 style leading space
        r"\s+",
        r".",
    ]
)
# Fallback alphabet: any printable ASCII text stays encodable (as characters) even if never seen.
ALPHABET: list[str] = sorted(set(string.printable))


def _build_backend() -> object:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE(unk_token=UNK, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(PRETOKEN_PATTERN), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return tok


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 4096,
    min_frequency: int = 2,
    units: Iterable[str] = (),
    openers: Iterable[str] | None = None,
) -> PreTrainedTokenizerFast:
    """BPE on `texts` (pieces seen at least `min_frequency` times become single tokens), then every one
    of `units` (model-form units) added whole with its leading space, and without it those of `openers`
    (None: all of them) — the units a text can begin with. A unit that never opens a text needs no bare
    token: the model's output layer would carry a row that is never a target (a quarter of MDI's)."""
    from tokenizers import Tokenizer, trainers

    backend = _build_backend()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=ALPHABET,
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)  # type: ignore[attr-defined]
    whole = sorted(unit_pieces(units, openers))
    if whole:
        data = json.loads(backend.to_str())  # type: ignore[attr-defined]
        vocab: dict[str, int] = data["model"]["vocab"]
        next_id = max(vocab.values()) + 1
        for piece in whole:
            if piece not in vocab:
                vocab[piece] = next_id
                next_id += 1
        backend = Tokenizer.from_str(json.dumps(data))
    return wrap_backend(backend)


def unit_pieces(units: Iterable[str], openers: Iterable[str] | None = None) -> set[str]:
    """The vocabulary pieces of model-form units: each with its leading space, and bare those of
    `openers` (None: all of them)."""
    units = list(units)
    bare = set(units if openers is None else openers)
    return {f" {u}" for u in units} | (bare & set(units))


def wrap_backend(backend: object) -> PreTrainedTokenizerFast:
    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        sep_token=SEP,
        padding_side="left",  # generation pads on the left; training collates its own batches
        clean_up_tokenization_spaces=False,  # spaces are tokens: never "clean" them
        model_max_length=1_000_000,
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, path: str | Path) -> None:
    tokenizer.save_pretrained(str(path))


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    from slm._hf import ensure_transformers

    ensure_transformers()
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(path))
    tok.padding_side = "left"
    tok.clean_up_tokenization_spaces = False
    return tok


def tokenizer_dir(model_dir: str | Path) -> Path:
    """Where a model directory keeps its tokenizer: alongside the weights (what train() writes), or in a
    `tokenizer/` subdirectory."""
    sub = Path(model_dir) / "tokenizer"
    return sub if (sub / "tokenizer.json").is_file() else Path(model_dir)


def _backend(tokenizer: PreTrainedTokenizerFast) -> object:
    return tokenizer.backend_tokenizer


def encode_texts(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> list[list[int]]:
    """Raw ids, no special tokens; batched in Rust (much faster than the Python wrapper)."""
    encs = _backend(tokenizer).encode_batch(list(texts), add_special_tokens=False)  # type: ignore[attr-defined]
    return [e.ids for e in encs]


def prefix_text(prompt: str, context: str | None = None) -> str:
    """The conditioning text before [sep]: optional context on its own line, then the prompt."""
    return f"{context}\n{prompt}" if context else prompt


def special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    ids = {
        name: tokenizer.convert_tokens_to_ids(tok)
        for name, tok in zip(("pad", "bos", "eos", "sep", "unk"), SPECIAL_TOKENS, strict=True)
    }
    return ids  # type: ignore[return-value]


def build_prefix_ids(
    tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str], contexts: Sequence[str | None] | None = None
) -> list[list[int]]:
    """[bos] context/prompt [sep] for each prompt: what generation starts from."""
    ids = special_ids(tokenizer)
    ctx = contexts if contexts is not None else [None] * len(prompts)
    texts = [prefix_text(p, c) for p, c in zip(prompts, ctx, strict=True)]
    return [[ids["bos"], *e, ids["sep"]] for e in encode_texts(tokenizer, texts)]


def decode(tokenizer: PreTrainedTokenizerFast, ids: Sequence[int]) -> str:
    """Lossless detokenisation (special tokens dropped)."""
    return tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)
