"""Training hyperparameters, named once: TrainingParams lists the ones a run may set, with each one's range and
help; its default is slm's own (TrainConfig's or ModelConfig's field of the same name, filled in below), and
train_config() maps the fields onto those classes by name (dataclasses.fields), so no name is restated. The
admin's form (training.forms.TrainForm) and the validation of a run's parameters are derived from it too.
A few fields are the run's own (grid, processes, max_restarts): not slm configs', they give their default.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

from django.core.exceptions import ValidationError

from slm.base_lora import LORA_DEFAULT_TARGETS
from slm.model import ModelConfig
from slm.train.config import TrainConfig

_TRAIN, _MODEL = TrainConfig(), ModelConfig()
_TRAIN_NAMES = {f.name for f in fields(TrainConfig)} - {"model"}
_MODEL_NAMES = {f.name for f in fields(ModelConfig)}
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
_KINDS = {"int": int, "float": float, "str": str}


def _param(
    lo: float | None = None,
    hi: float | None = None,
    help: str = "",
    *,
    default: Any = MISSING,
    form: bool = True,
    none_as: Any = None,
) -> Any:
    """A hyperparameter. `default` only for the run's own fields (slm's configs give the others');
    `none_as`: the value that stands for the config's None here (0, or "" for a comma-separated list)."""
    return field(
        default=default, metadata={"range": (lo, hi), "help": help, "form": form, "none_as": none_as}
    )


def _to_form(value: Any, f: Field) -> Any:
    """A TrainConfig/ModelConfig value as this field holds it."""
    if value is None:
        return f.metadata["none_as"]
    if isinstance(value, list):
        return ",".join(value)
    return _KINDS[str(f.type)](value)


def _to_config(value: Any, name: str, f: Field) -> Any:
    """This field's value as TrainConfig/ModelConfig holds it (a float stays a float, a list a list)."""
    if f.metadata["none_as"] is not None and value == f.metadata["none_as"]:
        return None
    if isinstance(value, str) and f.metadata["none_as"] == "":
        return [t.strip() for t in value.split(",") if t.strip()] or None
    default = getattr(_TRAIN if name in _TRAIN_NAMES else _MODEL, name)
    return float(value) if isinstance(default, float) else value


def _slm_defaults(cls: type) -> type:
    """Fill in each field's default from the slm config that defines it (before @dataclass reads them)."""
    for name in cls.__annotations__:
        f = cls.__dict__[name]
        f.name, f.type = name, cls.__annotations__[name]
        if f.default is not MISSING:
            continue
        if name not in _TRAIN_NAMES | _MODEL_NAMES:
            raise TypeError(
                f"TrainingParams.{name} is in neither TrainConfig nor ModelConfig: give its default"
            )
        f.default = _to_form(getattr(_TRAIN if name in _TRAIN_NAMES else _MODEL, name), f)
    return cls


@dataclass(frozen=True)
@_slm_defaults
class TrainingParams:
    budget_seconds: int = _param(0, 24 * 3600, "Wall-clock training time.", none_as=0)
    max_steps: int = _param(0, 10_000_000, "0: bounded by the time budget only.", none_as=0)
    batch_size: int = _param(1, 1024)
    batch_tokens: int = _param(
        0,
        1_000_000,
        "A batch holds as many sequences as fit in this many padded tokens; 0: batch_size sequences.",
        none_as=0,
    )
    learning_rate: float = _param(1e-6, 1.0)
    warmup_steps: int = _param(0, 100_000)
    seed: int = _param(0, 2**31 - 1)
    checkpoint_every: int = _param(1, 1_000_000)
    arch: str = _param()
    n_layer: int = _param(1, 48)
    n_embd: int = _param(16, 4096)
    n_head: int = _param(1, 64)
    n_positions: int = _param(32, 8192, "Context length: the longest sequence it sees.")
    dropout: float = _param(0.0, 0.9)
    weight_decay: float = _param(0.0, 1.0)
    prompt_variants: int = _param(1, 8, "Also train on k-1 shortened prompts.")
    select_by: str = _param(help="Which state the run keeps.")
    grid: int = _param(0, 1024, "Model-form grid; 0: chosen from the snapshot.", default=0)
    consensus: int = _param(0, 64, "Designs chosen by agreement among k sampled candidates; 0: greedy.")
    num_threads: int = _param(0, 256, "0: every core torch sees.", form=False, none_as=0)
    processes: int = _param(
        1,
        64,
        "Training processes (torchrun, DDP): each trains on its share of the same global batch.",
        default=1,
    )
    max_restarts: int = _param(0, 100, "Times torchrun restarts the processes when one dies.", default=2)
    finetune: str = _param(help="With a base model: train every weight, or LoRA adapters.")
    lora_rank: int = _param(1, 256, "LoRA rank (r).")
    lora_alpha: int = _param(1, 4096, "LoRA scaling (alpha).")
    lora_targets: str = _param(help=LORA_TARGETS_HELP, none_as="")

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
        """The slm configs, each field passed to the one that defines it, by name."""
        train: dict[str, Any] = {}
        model: dict[str, Any] = {}
        for f in fields(self):
            if f.name in _TRAIN_NAMES:
                train[f.name] = _to_config(getattr(self, f.name), f.name, f)
            elif f.name in _MODEL_NAMES:
                model[f.name] = _to_config(getattr(self, f.name), f.name, f)
        return TrainConfig(model=ModelConfig(**model), **train)

    def lora_target_list(self) -> list[str]:
        return [t.strip() for t in self.lora_targets.split(",") if t.strip()]
