"""Training data as the model sees it: encoded sequences, right-padded batches, length-bucketed order
(batches of a count of sequences, or of a budget of padded tokens).

Sequence layout: [bos] context/prompt [sep] svg [eos]; the loss covers the SVG and [eos] only.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slm.form.encode import try_encode
from slm.form.spec import FormSpec
from slm.tokenizer import encode_texts, prefix_text, special_ids
from slm.train.config import TrainExample

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerFast

IGNORE = -100  # label of positions the loss skips (prompt and padding)


@dataclass(slots=True)
class EncodedExample:
    # int32 array: 4 bytes a token where a list of Python ints took ~43 (the whole set stays encoded)
    ids: array[int]
    prefix_len: int  # tokens before the first SVG token; the loss starts there


ENCODE_CHUNK = 2048  # examples a Rust batch encodes: its Encoding objects hold ~100 bytes a token


def encode_examples(
    tokenizer: PreTrainedTokenizerFast, examples: Sequence[TrainExample], max_len: int
) -> tuple[list[EncodedExample], int]:
    """Encode the examples in Rust batches; drop (and count) sequences longer than max_len."""
    sp = special_ids(tokenizer)
    out: list[EncodedExample] = []
    skipped = 0
    for start in range(0, len(examples), ENCODE_CHUNK):
        chunk = examples[start : start + ENCODE_CHUNK]
        prefixes = encode_texts(tokenizer, [prefix_text(e.prompt, e.context) for e in chunk])
        svgs = encode_texts(tokenizer, [e.svg for e in chunk])
        for p, s in zip(prefixes, svgs, strict=True):
            if len(p) + len(s) + 3 > max_len:
                skipped += 1
                continue
            ids = array("i", [sp["bos"], *p, sp["sep"], *s, sp["eos"]])
            out.append(EncodedExample(ids=ids, prefix_len=len(p) + 2))
    return out, skipped


def collate(batch: Sequence[EncodedExample], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Right-padded input ids and labels (prefix and padding ignored) and the real-token count.

    With right padding a causal model never attends to padding from real tokens, so no attention mask
    is needed and SDPA can take its fast causal path. Callers pass eos as the filler: padding is never
    attended nor predicted, and transformers then does not warn about an unmasked pad token.
    """
    import torch

    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    tokens = 0
    for i, e in enumerate(batch):
        n = len(e.ids)
        row = (
            torch.frombuffer(e.ids, dtype=torch.int32).long() if n else torch.tensor(e.ids, dtype=torch.long)
        )
        ids[i, :n] = row
        labels[i, e.prefix_len : n] = row[e.prefix_len :]
        tokens += n
    return ids, labels, tokens


class BucketBatcher:
    """Shuffled epochs of length-bucketed batches. Each epoch's order is cut into windows (of
    `bucket_batches` batches' worth of examples), each window is sorted by length and cut into batches, and
    the batch order is shuffled: each batch pads little, yet every epoch mixes lengths differently.

    A batch holds `batch_size` sequences, or, with `max_tokens`, as many as fit in that many padded
    positions (sequences × the longest of them; fairseq's --max-tokens): a step's memory and time then
    follow the token budget, not the lengths a data set happens to have. Deterministic per (seed, epoch):
    resumable from (epoch, position)."""

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        bucket_batches: int = 32,
        max_tokens: int | None = None,
    ) -> None:
        self.lengths = array("i", lengths)  # 4 bytes a sequence: a large set's batcher stays small
        self.batch_size = max(1, min(batch_size, len(self.lengths)))
        # A sequence longer than the budget still makes a batch of its own.
        self.max_tokens = max(max_tokens, max(self.lengths, default=1)) if max_tokens else None
        self.seed = seed
        self.bucket_batches = max(1, bucket_batches)
        self.epoch = 0
        self.position = 0
        self._batches: list[array[int]] = self._epoch_batches(0)

    def _epoch_batches(self, epoch: int) -> list[array[int]]:
        """The epoch's batches, each an int32 array: ~6 bytes a sequence where lists of Python ints held
        ~36 (48 MB an epoch at a million sequences)."""
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = array("i", range(len(self.lengths)))
        rng.shuffle(order)  # the same permutation a list gets: shuffle only swaps items
        batches: list[array[int]] = []
        for window in self._windows(order):
            chunk = sorted(window, key=self.lengths.__getitem__)
            batches += (array("i", b) for b in self._cut(chunk))
        rng.shuffle(batches)
        return batches

    def _windows(self, order: Sequence[int]) -> Iterator[Sequence[int]]:
        if self.max_tokens is None:
            size = self.batch_size * self.bucket_batches
            yield from (order[i : i + size] for i in range(0, len(order), size))
            return
        budget, start, total = self.max_tokens * self.bucket_batches, 0, 0
        for i, index in enumerate(order):
            total += self.lengths[index]
            if total >= budget:
                yield order[start : i + 1]
                start, total = i + 1, 0
        if start < len(order):
            yield order[start:]

    def _cut(self, chunk: list[int]) -> list[list[int]]:
        """A window sorted by length, cut into batches (by count, or greedily by padded tokens)."""
        if self.max_tokens is None:
            return [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        batches: list[list[int]] = [[]]
        for index in chunk:  # ascending: the newest sequence is the batch's longest
            if batches[-1] and (len(batches[-1]) + 1) * self.lengths[index] > self.max_tokens:
                batches.append([])
            batches[-1].append(index)
        return batches

    def __next__(self) -> list[int]:
        if self.position >= len(self._batches):
            self.epoch += 1
            self.position = 0
            self._batches = self._epoch_batches(self.epoch)
        batch = self._batches[self.position]
        self.position += 1
        return list(batch)

    def __iter__(self) -> Iterator[list[int]]:
        return self

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._batches = self._epoch_batches(self.epoch)


def tokenizer_texts(examples: Sequence[TrainExample]) -> Iterator[str]:
    for e in examples:
        yield prefix_text(e.prompt, e.context)
        yield e.svg


@dataclass(frozen=True)
class FormFailure:
    index: int  # position in the examples given
    reason: str


def to_forms(
    examples: Sequence[TrainExample], spec: FormSpec
) -> tuple[list[TrainExample], list[FormFailure]]:
    """The examples with their SVG in the model form; those that cannot be written so are left out and
    returned with the reason, for a per-example report."""
    out: list[TrainExample] = []
    failures: list[FormFailure] = []
    for i, e in enumerate(examples):
        encoded, why = try_encode(e.svg, spec)
        if encoded is None:
            failures.append(FormFailure(i, why))
        else:
            out.append(TrainExample(e.prompt, encoded.text, e.context))
    return out, failures


def prompt_variants(prompt: str, k: int, rng: random.Random) -> list[str]:
    """The prompt and k-1 variants of it, for prompts of the `name; tags: …; categories: …` kind: the
    name's words thinned at random (a family's base shape is named by part of the name), the later
    clauses dropped or thinned at random, and every third variant without its name at all (an unseen
    name leaves the tags to go by). A prompt of one clause has no variants."""
    head, *clauses = [c.strip() for c in prompt.split(";")]
    if not clauses or k <= 1:
        return [prompt]
    words = head.split()
    variants = [prompt]
    for v in range(1, k):
        kept = []
        for clause in clauses:
            if rng.random() < 0.5:
                continue
            label, colon, items = clause.partition(":")
            if colon:
                parts = [p.strip() for p in items.split(",") if p.strip()]
                parts = rng.sample(parts, rng.randint(1, len(parts))) if parts else []
                clause = f"{label}: {', '.join(parts)}" if parts else ""
            if clause:
                kept.append(clause)
        if v % 3 == 2 and kept:
            name = ""
        else:
            subset = sorted(rng.sample(range(len(words)), rng.randint(1, len(words)))) if words else []
            name = " ".join(words[i] for i in subset)
        variants.append("; ".join([p for p in (name, *kept) if p]))
    return variants


def with_prompt_variants(examples: Sequence[TrainExample], k: int, seed: int) -> list[TrainExample]:
    rng = random.Random(seed)
    return [TrainExample(p, e.svg, e.context) for e in examples for p in prompt_variants(e.prompt, k, rng)]
