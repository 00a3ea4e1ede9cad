"""What a training run starts from: its device, the checkpoint it resumes, its tokenizer and model, its
encoded data, its optimiser and restored state, gathered in one `Run` for the loop (slm.train.loop)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm.base import adapt_for_designs
from slm.base_lora import lora_resume, lora_wrap, trainable
from slm.coordinates import init_coordinate_embeddings
from slm.form.spec import FormSpec, form_units, opening_units
from slm.model import build_model, load_model, pick_device, without_attention_dropout
from slm.output_rows import never_targets, record
from slm.tokenizer import load_tokenizer, prefix_text, tokenizer_dir, train_tokenizer, unit_pieces
from slm.train.checkpoints import clean_stale, latest_checkpoint, load_trainer_state, read_best, set_rng_state
from slm.train.config import ExampleLike, TrainConfig, TrainExample
from slm.train.data import (
    BucketBatcher,
    EncodedExample,
    tokenizer_texts,
)
from slm.train.distributed import Dist, wrap
from slm.train.distributed import current as current_dist
from slm.train.loss import cpu_bf16_supported
from slm.train.memory import tune_malloc
from slm.train.schedule import Schedule
from slm.train.setup_data import listed_data, streamed_data
from slm.train.stream import ShardSet
from slm.train.threads import ThreadTuner, configure_threads
from slm.train.token_cache import TokenCache

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast


@dataclass
class Run:
    """Everything a run carries from setup to finish."""

    config: TrainConfig
    out_dir: Path
    dist: Dist | None
    device: str
    tuner: ThreadTuner | None
    form: FormSpec | None
    cpu_bf16: bool
    model: PreTrainedModel
    net: Any  # what a step runs through (a LoRA model's base, its adapters in place)
    step_net: Any  # the DDP-wrapped loss of a multi-process run, else None
    tokenizer: PreTrainedTokenizerFast
    encoded: Sequence[EncodedExample]  # a list, or a TokenCache on disk for a streamed run
    val_encoded: Sequence[EncodedExample]
    val_sample: list[Any]
    skipped: int
    optimizer: Any
    schedule: Schedule
    batcher: BucketBatcher
    select_by: str
    resume: Path | None
    has_val: bool  # validation examples were given
    data_key: str | None = None  # a streamed run's data fingerprint: a checkpoint resumes only on it
    loss_ema: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)  # step, val_loss[, val_iou] per check
    best: dict[str, Any] | None = None
    last_ckpt: Path | None = None

    @property
    def main(self) -> bool:
        return self.dist is None or self.dist.main

    @property
    def device_type(self) -> str:
        return self.device.split(":")[0]

    @property
    def fill_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def longest(self) -> int:
        if isinstance(self.encoded, TokenCache):
            return self.encoded.longest()
        return max(len(e.ids) for e in self.encoded)


def setup_run(
    config: TrainConfig,
    train_examples: Iterable[ExampleLike],
    val_examples: Iterable[ExampleLike],
    out_dir: Path,
    init_from: Path | None,
) -> Run:
    """Device and threads, the resume point, model and tokenizer, encoded data, optimiser, restored state."""
    import torch

    if not config.max_steps and not config.budget_seconds:
        raise ValueError("set max_steps and/or budget_seconds")
    dist = current_dist()
    out_dir.mkdir(parents=True, exist_ok=True)
    if dist is None or dist.main:
        clean_stale(out_dir)
    configure_threads(config.num_threads)
    device = run_device(config, dist)
    cores = os.cpu_count() or 1
    tune = device == "cpu" and config.num_threads is None and cores > 1 and dist is None
    form = FormSpec.from_dict(config.svg_form)
    resume = resume_point(out_dir, dist)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    build = partial(_model, config, form=form, resume=resume, init_from=init_from, device=device)
    if isinstance(train_examples, ShardSet):
        data = streamed_data(config, train_examples, form, out_dir, dist, build)
    else:
        data = listed_data(config, train_examples, val_examples, build)
    model, tokenizer, net, encoded, val_encoded, skipped, val_sample = data
    if not encoded:
        raise ValueError("every training example is longer than the model context")
    has_val = bool(val_encoded) or bool(val_sample)
    select_by = config.select_by if has_val else "last"
    if select_by == "val_iou" and form is None:
        select_by = "val_loss"  # designs are compared as pictures only for the model form
    run = Run(
        config=config,
        out_dir=out_dir,
        dist=dist,
        device=device,
        tuner=ThreadTuner([cores, 1]) if tune else None,
        form=form,
        cpu_bf16=cpu_bf16_supported() if config.cpu_bf16 is None else config.cpu_bf16,
        model=model,
        net=net,
        step_net=wrap(net, device) if dist is not None else None,
        tokenizer=tokenizer,
        encoded=encoded,
        val_encoded=val_encoded,
        val_sample=val_sample[: config.validation_prompts],
        skipped=skipped,
        optimizer=make_optimizer(net, config),
        schedule=Schedule(config),
        batcher=BucketBatcher(
            encoded.lengths() if isinstance(encoded, TokenCache) else [len(e.ids) for e in encoded],
            config.batch_size,
            config.seed,
            config.bucket_batches,
            max_tokens=config.batch_tokens,
        ),
        select_by=select_by,
        resume=resume,
        has_val=has_val,
        data_key=train_examples.fingerprint() if isinstance(train_examples, ShardSet) else None,
        last_ckpt=resume,
    )
    if resume is not None:
        restore(run, resume)
    return run


def _model(
    config: TrainConfig,
    sample: Sequence[TrainExample],
    all_units: Callable[[], set[str]],
    *,
    form: FormSpec | None,
    resume: Path | None,
    init_from: Path | None,
    device: str,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast, Any]:
    """The model on its device, in training mode, its tokenizer, and the part a step trains."""
    model, tokenizer = model_and_tokenizer(config, sample, all_units, form, resume, init_from)
    without_attention_dropout(model)  # also a resumed or base model saved with it
    tune_malloc()
    model.to(device)
    model.train()
    return model, tokenizer, trainable(model)


def restore(run: Run, resume: Path) -> None:
    """The trainer state of a checkpoint: optimiser, schedule, data order, RNG, loss, validations."""

    state = load_trainer_state(resume)  # weights_only: never unpickles code
    run.optimizer.load_state_dict(state["optimizer"])
    run.schedule.load_state_dict(state["schedule"])
    saved = state.get("data_key")  # None: a checkpoint of an in-memory run (or one from before streaming)
    if run.data_key is not None and saved is not None and saved != run.data_key:
        raise ValueError(
            f"Checkpoint {resume.name} was trained on other data (another snapshot or export): "
            "start a new run to train on this one."
        )
    run.batcher.load_state_dict(state["batcher"])  # the stream position: the same batches follow
    set_rng_state(state["rng"])
    run.loss_ema = state.get("loss_ema")
    run.history = list(state.get("validation", []))
    run.best = read_best(run.out_dir)


def run_device(config: TrainConfig, dist: Dist | None) -> str:
    """The device this process trains on: a rank of a multi-GPU run takes its own GPU."""
    device = pick_device(config.device)
    if device.startswith("cuda"):
        fast_cuda_matmuls()
        if dist is not None:
            device = f"cuda:{dist.local_rank}"
    return device


def resume_point(out_dir: Path, dist: Dist | None) -> Path | None:
    """The checkpoint to resume from, the same on every rank (rank 0's view of out_dir)."""
    resume = latest_checkpoint(out_dir)
    if dist is not None:
        dist.barrier()  # rank 0 has cleaned up; every rank resumes from the checkpoint rank 0 saw
        name = dist.broadcast(resume.name if resume is not None else None)
        resume = out_dir / "checkpoints" / name if name else None
    return resume


def model_and_tokenizer(
    config: TrainConfig,
    sample: Sequence[TrainExample],
    all_units: Callable[[], set[str]],
    form: FormSpec | None,
    resume: Path | None,
    init_from: Path | None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Resumed from a checkpoint, fine-tuned from a base model (full or LoRA), or new."""
    lora = config.finetune == "lora"
    if lora and init_from is None:
        raise ValueError("LoRA fine-tunes a base model: give init_from")
    if resume is not None and lora:
        tokenizer = load_tokenizer(tokenizer_dir(resume))  # the base's, with our markers added
        model = load_model(init_from)  # type: ignore[arg-type]
        adapt_for_designs(model, tokenizer)
        return lora_resume(model, resume), tokenizer
    if resume is not None:
        return load_model(resume), load_tokenizer(tokenizer_dir(resume))
    if init_from is not None:
        # Fine-tuning keeps the base vocabulary: unseen text still encodes (as characters), ids stay valid.
        # A pretrained base gets our sequence markers as added special tokens (slm.base).
        init_from = Path(init_from)
        tokenizer = load_tokenizer(tokenizer_dir(init_from))
        model = load_model(init_from)
        new_ids = adapt_for_designs(model, tokenizer)
        record(model, None)  # new data may write pieces the base never did: every row stays a target
        if lora:
            model = lora_wrap(model, config.lora_rank, config.lora_alpha, config.lora_targets, new_ids)
        return model, tokenizer
    if form is None:
        tokenizer = train_tokenizer(tokenizer_texts(sample), vocab_size=config.vocab_size)
    else:  # BPE for the prompts; every unit of the form one token
        units = [*form_units(form), *sorted(all_units())]
        prompts = (prefix_text(e.prompt, e.context) for e in sample)
        openers = opening_units(units)
        tokenizer = train_tokenizer(prompts, vocab_size=config.vocab_size, units=units, openers=openers)
    model = build_model(config.model, tokenizer)
    if form is not None and config.target_rows_only:
        record(model, never_targets(tokenizer, unit_pieces(units, openers)))
    if form is not None and config.coordinate_init:
        init_coordinate_embeddings(model, tokenizer, form.grid, seed=config.seed)
    return model, tokenizer


def make_optimizer(model: PreTrainedModel, config: TrainConfig) -> torch.optim.Optimizer:
    import torch

    # No weight decay on biases, norms and embeddings: standard for small transformers.
    decay, no_decay = [], []
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (
            decay
            if p.ndim >= 2 and "wte" not in name and "embed" not in name and "wpe" not in name
            else no_decay
        ).append(p)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, config.beta2), eps=1e-8)


def fast_cuda_matmuls() -> None:
    """TF32 for float32 matrix products and convolutions on GPUs that have it (Ampere and later):
    the parts bf16 autocast leaves in float32 (the loss, norms, the optimiser) run several times faster."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
