"""What a training run is given (its examples, TrainConfig) and what it reports (Progress, TrainResult)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from slm.model import ModelConfig


@dataclass(frozen=True)
class TrainExample:
    prompt: str
    svg: str
    context: str | None = None


ExampleLike = TrainExample | tuple[str, str] | tuple[str, str, str | None] | dict[str, Any] | Any


def as_example(item: ExampleLike) -> TrainExample:
    """Accept TrainExample, (prompt, svg[, context]) tuples, dict rows and objects with .prompt/.svg."""
    if isinstance(item, TrainExample):
        return item
    if isinstance(item, tuple | list):
        return TrainExample(item[0], item[1], item[2] if len(item) > 2 else None)
    if isinstance(item, dict):
        return TrainExample(item["prompt"], item["svg"], item.get("context"))
    return TrainExample(item.prompt, item.svg, getattr(item, "context", None))


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 32
    # With batch_tokens, a batch is as many sequences as fit in this many padded positions (sequences x the
    # longest), batch_size then unused: a step's memory and time follow the budget, not the data's lengths.
    batch_tokens: int | None = None
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.05  # cosine decays to learning_rate * min_lr_ratio
    warmup_steps: int = 30
    weight_decay: float = 0.01
    beta2: float = 0.98
    grad_clip: float = 1.0
    max_steps: int | None = None
    budget_seconds: float | None = 300.0  # wall-clock training time, summed over resumed runs
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    progress_every: int = 10
    seed: int = 0
    num_threads: int | None = None  # None: on CPU, tune between all cores and 1 while training
    vocab_size: int = 4096
    tokenizer_examples: int = 20_000  # train the tokenizer on a prefix: plenty for a vocabulary, much faster
    bucket_batches: int = 32  # sort windows of this many batches by length: little padding, still shuffled
    device: str | None = None  # None: cuda if available, else cpu
    cpu_bf16: bool | None = None  # bfloat16 autocast on CPU; None: where the CPU has native bf16 products
    eval_batch_size: int = 64
    # How designs are written (slm.form.spec.FormSpec.as_dict()); None: raw SVG text (older models).
    svg_form: dict[str, Any] | None = None
    prompt_variants: int = 1  # each prompt also trained on in k-1 shortened variants (train.data)
    # A new model-form model starts its point and number tokens where they lie on the grid
    # (slm.coordinates); False: at random, as any other token.
    coordinate_init: bool = True
    # A new model-form model's loss and decoders use only the output rows a design can write: its units
    # and the end marker (slm.output_rows); False: every row of the vocabulary, as before.
    target_rows_only: bool = True
    # Fewer training designs than this (after those the model form cannot express are left out) refuse
    # the run with TooFewExamples, on the in-memory and the streamed path alike.
    min_examples: int = 1
    # Which state the run keeps: "val_loss" (lowest), "val_iou" (best designs on validation prompts,
    # model form only) or "last". Validation runs `validations` times, spread over the run.
    select_by: str = "val_loss"
    validations: int = 10
    validation_prompts: int = 48
    # How the model's design for a prompt is chosen: 0, its greedy decode; k > 0, the candidate of k sampled
    # at consensus_temperature whose rendering agrees most with the others' (core.svg.compare.
    # consensus_order). Generation and the quality evaluation both read it from the manifest.
    consensus: int = 0
    consensus_temperature: float = 1.0
    # Fine-tuning a base model (init_from): "full" trains every weight, "lora" trains LoRA adapters on
    # `lora_targets` (None: the architecture's defaults, slm.base_lora) and the rows of added tokens.
    finetune: str = "full"
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_targets: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        model = ModelConfig(**data.pop("model", {}))
        return cls(model=model, **data)


@dataclass
class Progress:
    step: int
    total_steps: int  # estimated from throughput when only a time budget bounds the run
    loss: float
    tokens_per_second: float
    eta_seconds: float
    learning_rate: float
    elapsed_seconds: float


@dataclass
class TrainResult:
    status: str  # "completed" or "cancelled"
    steps: int
    resumed_from_step: int
    train_loss: float
    val_loss: float | None
    val_perplexity: float | None
    tokens: int  # non-padding tokens processed by this call
    train_seconds: float  # loop time of this call (checkpoints included, setup excluded)
    tokens_per_second: float
    parameters: int
    final_dir: Path | None
    last_checkpoint: Path | None
    skipped_examples: int = 0  # longer than the model's context
    threads: int = 1  # CPU threads the run ended with (the tuner's pick on a shared CPU)
    kept_step: int | None = None  # the step whose weights were kept (select_by), None: the last
    validation: list[dict[str, float]] = field(default_factory=list)  # step, val_loss[, val_iou] per check

    def metrics(self) -> dict[str, Any]:
        """What the run measured, as its manifest and the model registry record it."""
        return {
            "steps": self.steps,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_perplexity": self.val_perplexity,
            "tokens_per_second": self.tokens_per_second,
            "parameters": self.parameters,
            "skipped_examples": self.skipped_examples,
            "kept_step": self.kept_step if self.kept_step is not None else self.steps,
        }
