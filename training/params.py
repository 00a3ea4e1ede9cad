"""Training hyperparameters, defined once: each field's default (taken from slm's own TrainConfig
and ModelConfig), its range and its help. The admin's form (training.forms.TrainForm), the validation of
a run's parameters and the training config are all derived from this class."""

from __future__ import annotations

from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

from django.core.exceptions import ValidationError

from slm.base import LORA_DEFAULT_TARGETS
from slm.model import ModelConfig
from slm.train.config import TrainConfig

_TRAIN, _MODEL = TrainConfig(), ModelConfig()
ARCHITECTURES = (("gpt2", "GPT-2"), ("llama", "Llama"))
FINETUNE = (("full", "every weight"), ("lora", "LoRA adapters (peft)"))
LORA_TARGETS_HELP = (
    "Comma-separated layer names; empty: the architecture's defaults ("
    + "; ".join(
        f"{arch}: {','.join(names)}"
        for arch, names in LORA_DEFAULT_TARGETS.items()
        if arch in ("gpt2", "llama")
    )
    + ")."
)
SELECT_BY = (
    ("val_iou", "best validation designs (ink IoU)"),
    ("val_loss", "lowest validation loss"),
    ("last", "the last step"),
)


def _param(
    default: Any, lo: float | None = None, hi: float | None = None, help: str = "", form: bool = True
) -> Any:
    return field(default=default, metadata={"range": (lo, hi), "help": help, "form": form})


@dataclass(frozen=True)
class TrainingParams:
    budget_seconds: int = _param(int(_TRAIN.budget_seconds or 0), 0, 24 * 3600, "Wall-clock training time.")
    max_steps: int = _param(_TRAIN.max_steps or 0, 0, 10_000_000, "0: bounded by the time budget only.")
    batch_size: int = _param(_TRAIN.batch_size, 1, 1024)
    batch_tokens: int = _param(
        _TRAIN.batch_tokens or 0,
        0,
        1_000_000,
        "A batch holds as many sequences as fit in this many padded tokens; 0: batch_size sequences.",
    )
    learning_rate: float = _param(_TRAIN.learning_rate, 1e-6, 1.0)
    warmup_steps: int = _param(_TRAIN.warmup_steps, 0, 100_000)
    seed: int = _param(_TRAIN.seed, 0, 2**31 - 1)
    checkpoint_every: int = _param(_TRAIN.checkpoint_every, 1, 1_000_000)
    arch: str = _param(_MODEL.arch)
    n_layer: int = _param(_MODEL.n_layer, 1, 48)
    n_embd: int = _param(_MODEL.n_embd, 16, 4096)
    n_head: int = _param(_MODEL.n_head, 1, 64)
    n_positions: int = _param(_MODEL.n_positions, 32, 8192, "Context length: the longest sequence it sees.")
    dropout: float = _param(_MODEL.dropout, 0.0, 0.9)
    weight_decay: float = _param(_TRAIN.weight_decay, 0.0, 1.0)
    prompt_variants: int = _param(_TRAIN.prompt_variants, 1, 8, "Also train on k-1 shortened prompts.")
    select_by: str = _param(_TRAIN.select_by, help="Which state the run keeps.")
    grid: int = _param(0, 0, 1024, "Model-form grid; 0: chosen from the snapshot.")
    consensus: int = _param(
        _TRAIN.consensus, 0, 64, "Designs chosen by agreement among k sampled candidates; 0: greedy."
    )
    num_threads: int = _param(_TRAIN.num_threads or 0, 0, 256, "0: every core torch sees.", form=False)
    processes: int = _param(
        1, 1, 64, "Training processes (torchrun, DDP): each trains on its share of the same global batch."
    )
    max_restarts: int = _param(2, 0, 100, "Times torchrun restarts the processes when one dies.")
    finetune: str = _param(_TRAIN.finetune, help="With a base model: train every weight, or LoRA adapters.")
    lora_rank: int = _param(_TRAIN.lora_rank, 1, 256, "LoRA rank (r).")
    lora_alpha: int = _param(_TRAIN.lora_alpha, 1, 4096, "LoRA scaling (alpha).")
    lora_targets: str = _param("", help=LORA_TARGETS_HELP)

    @classmethod
    def fields(cls) -> tuple[Field, ...]:
        return fields(cls)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainingParams:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        errors: dict[str, list[str]] = {}
        if unknown:
            errors["training_params"] = [f"Unknown parameter(s): {', '.join(unknown)}."]
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            kind = type(f.default) if f.default is not MISSING else str
            try:
                values[f.name] = kind(data[f.name])
            except (TypeError, ValueError):
                errors[f.name] = [f"Not a valid {kind.__name__}."]
                continue
            lo, hi = f.metadata["range"]
            if lo is not None and not lo <= values[f.name] <= hi:
                errors[f.name] = [f"Must be between {lo} and {hi}."]
        params = cls(**values)
        if params.arch not in dict(ARCHITECTURES):
            errors["arch"] = ["Choose gpt2 or llama."]
        if params.select_by not in dict(SELECT_BY):
            errors["select_by"] = [f"Choose one of {', '.join(dict(SELECT_BY))}."]
        if params.finetune not in dict(FINETUNE):
            errors["finetune"] = [f"Choose one of {', '.join(dict(FINETUNE))}."]
        if params.n_embd % params.n_head:
            errors["n_head"] = ["n_embd must be divisible by n_head."]
        if not params.budget_seconds and not params.max_steps:
            errors["budget_seconds"] = ["Give a time budget or a number of steps."]
        if errors:
            raise ValidationError(errors)
        return params

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            model=ModelConfig(
                arch=self.arch,
                n_layer=self.n_layer,
                n_embd=self.n_embd,
                n_head=self.n_head,
                n_positions=self.n_positions,
                dropout=self.dropout,
            ),
            weight_decay=self.weight_decay,
            prompt_variants=self.prompt_variants,
            select_by=self.select_by,
            consensus=self.consensus,
            batch_size=self.batch_size,
            batch_tokens=self.batch_tokens or None,
            learning_rate=self.learning_rate,
            warmup_steps=self.warmup_steps,
            max_steps=self.max_steps or None,
            budget_seconds=float(self.budget_seconds) or None,
            checkpoint_every=self.checkpoint_every,
            seed=self.seed,
            num_threads=self.num_threads or None,
            finetune=self.finetune,
            lora_rank=self.lora_rank,
            lora_alpha=self.lora_alpha,
            lora_targets=self.lora_target_list() or None,
        )

    def lora_target_list(self) -> list[str]:
        return [t.strip() for t in self.lora_targets.split(",") if t.strip()]
