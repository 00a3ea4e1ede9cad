"""A run's data, encoded: from lists of examples held in memory (small sets, tests), or streamed from a
snapshot's Parquet shards into an on-disk token cache (slm.train.stream). Both build the model through
`build(sample, all_units)` once the tokenizer's inputs are known."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from slm.form.spec import FormSpec, units_of
from slm.model import max_positions
from slm.train.config import ExampleLike, TrainConfig, TrainExample, as_example
from slm.train.data import EncodedExample, encode_examples, with_prompt_variants
from slm.train.distributed import Dist
from slm.train.stream import ShardSet, all_units, encode_parts, examples, prepare

Build = Callable[[Sequence[TrainExample], Callable[[], set[str]]], tuple[Any, Any, Any]]
Data = tuple[Any, Any, Any, Sequence[EncodedExample], Sequence[EncodedExample], int, list[TrainExample]]
VAL_FALLBACK = 64  # training examples a run without a validation split checks itself on


class TooFewExamples(ValueError):
    """Fewer training designs than `config.min_examples`: `kept` could be trained on, `unconvertible` were
    left out because the model form cannot express them (`failures`: the first, with their reasons)."""

    def __init__(
        self, *, kept: int, unconvertible: int, minimum: int, failures: Sequence[dict[str, str]] = ()
    ) -> None:
        self.kept, self.unconvertible, self.minimum = kept, unconvertible, minimum
        self.failures = list(failures)
        if unconvertible:
            said = f"Only {kept} of {kept + unconvertible} training examples can be written in the model form"
        else:
            said = f"Only {kept} training example(s)" if kept else "No training examples"
        super().__init__(f"{said}; a model needs at least {minimum}.")


def check_enough(
    config: TrainConfig, kept: int, unconvertible: int = 0, failures: Sequence[Any] = ()
) -> None:
    minimum = max(1, config.min_examples)
    if kept < minimum:
        raise TooFewExamples(kept=kept, unconvertible=unconvertible, minimum=minimum, failures=failures)


def listed_data(
    config: TrainConfig,
    train_examples: Iterable[ExampleLike],
    val_examples: Iterable[ExampleLike],
    build: Build,
) -> Data:
    train_list = [as_example(e) for e in train_examples]
    val_list = [as_example(e) for e in val_examples]
    check_enough(config, len(train_list))
    if config.prompt_variants > 1:
        train_list = with_prompt_variants(train_list, config.prompt_variants, config.seed)
    sample = train_list[: config.tokenizer_examples] if config.tokenizer_examples else train_list
    model, tokenizer, net = build(sample, lambda: units_of(e.svg for e in train_list))
    max_len = max_positions(net)
    encoded, skipped = encode_examples(tokenizer, train_list, max_len)
    val_encoded, _ = encode_examples(tokenizer, val_list, max_len)
    return model, tokenizer, net, encoded, val_encoded, skipped, val_list


def streamed_data(
    config: TrainConfig, data: ShardSet, form: FormSpec | None, out_dir: Path, dist: Dist | None, build: Build
) -> Data:
    prepared = prepare(data, config, form, out_dir, dist)
    check_enough(config, prepared.designs, prepared.unconvertible, prepared.failures)
    sample = list(examples(prepared.train_parts, config.tokenizer_examples or None))
    model, tokenizer, net = build(sample, lambda: all_units(prepared))
    del sample
    encoded, val_encoded, skipped = encode_parts(prepared, tokenizer, max_positions(net), dist)
    val_sample = list(examples(prepared.val_parts, config.validation_prompts))
    if not len(val_encoded):  # as the in-memory path's caller does: check on the first training examples
        val_encoded = encoded[:VAL_FALLBACK]
        val_sample = list(examples(prepared.train_parts, min(VAL_FALLBACK, config.validation_prompts)))
    return model, tokenizer, net, encoded, val_encoded, skipped, val_sample
