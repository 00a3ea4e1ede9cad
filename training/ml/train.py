"""The training loop: budgeted, cancellable, resumable, with atomic checkpoints.

Sequence layout: [bos] context/prompt [sep] svg [eos]; the loss covers the SVG and [eos] only.
Checkpoints live in out_dir/checkpoints/step-XXXXXXXX; a checkpoint counts only once its
manifest.json exists (written last), so a run killed mid-write is never resumed from a torn state.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.ml.model import (
    ModelConfig,
    build_model,
    count_parameters,
    load_model,
    max_positions,
    pick_device,
    quiet_transformers,
)
from training.ml.tokenizer import (
    encode_texts,
    load_tokenizer,
    prefix_text,
    special_ids,
    tokenizer_dir,
    train_tokenizer,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

MANIFEST = "manifest.json"
TRAINER_STATE = "trainer_state.pt"
IGNORE = -100


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
    eval_batch_size: int = 64

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


# --- data --------------------------------------------------------------------------------------------


@dataclass
class EncodedExample:
    ids: list[int]
    prefix_len: int  # tokens before the first SVG token; the loss starts there


def encode_examples(
    tokenizer: PreTrainedTokenizerFast, examples: Sequence[TrainExample], max_len: int
) -> tuple[list[EncodedExample], int]:
    """Encode all examples in two Rust batches; drop (and count) sequences longer than max_len."""
    sp = special_ids(tokenizer)
    prefixes = encode_texts(tokenizer, [prefix_text(e.prompt, e.context) for e in examples])
    svgs = encode_texts(tokenizer, [e.svg for e in examples])
    out: list[EncodedExample] = []
    skipped = 0
    for p, s in zip(prefixes, svgs, strict=True):
        ids = [sp["bos"], *p, sp["sep"], *s, sp["eos"]]
        if len(ids) > max_len:
            skipped += 1
            continue
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
        row = torch.tensor(e.ids, dtype=torch.long)
        ids[i, :n] = row
        labels[i, e.prefix_len : n] = row[e.prefix_len :]
        tokens += n
    return ids, labels, tokens


class BucketBatcher:
    """Shuffled epochs; within windows of `bucket_batches` batches examples are sorted by length so each
    batch pads little, then the batch order is shuffled. Deterministic per (seed, epoch): resumable."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, bucket_batches: int = 32) -> None:
        self.lengths = list(lengths)
        self.batch_size = max(1, min(batch_size, len(self.lengths)))
        self.seed = seed
        self.bucket_batches = bucket_batches
        self.epoch = 0
        self.position = 0
        self._batches: list[list[int]] = self._epoch_batches(0)

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        window = self.batch_size * self.bucket_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=self.lengths.__getitem__)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def __next__(self) -> list[int]:
        if self.position >= len(self._batches):
            self.epoch += 1
            self.position = 0
            self._batches = self._epoch_batches(self.epoch)
        batch = self._batches[self.position]
        self.position += 1
        return batch

    def __iter__(self) -> Iterator[list[int]]:
        return self

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._batches = self._epoch_batches(self.epoch)


# --- schedule ----------------------------------------------------------------------------------------


def lr_at(config: TrainConfig, step: int, elapsed: float) -> float:
    """Linear warm-up, then cosine decay over the run's progress: the larger of the step fraction and the
    time-budget fraction, so a time-bounded run still ends its decay when the budget runs out."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    return config.learning_rate * warm * _decay(config, progress_fraction(config, step, elapsed))


def _decay(config: TrainConfig, progress: float) -> float:
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cos


def progress_fraction(config: TrainConfig, step: int, elapsed: float) -> float:
    fractions = [0.0]
    if config.max_steps:
        fractions.append(step / config.max_steps)
    if config.budget_seconds:
        fractions.append(elapsed / config.budget_seconds)
    return min(1.0, max(fractions))


class Schedule:
    """The LR schedule as a resumable object (its state is the step and the training time so far)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.step = 0
        self.elapsed = 0.0

    def lr(self) -> float:
        return lr_at(self.config, self.step, self.elapsed)

    def state_dict(self) -> dict[str, float]:
        return {"step": self.step, "elapsed": self.elapsed}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])


# --- loss ----------------------------------------------------------------------------------------------


def lm_loss(model: PreTrainedModel, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over labelled positions only.

    The LM head runs only where there is a target (the SVG part), which saves the head's cost on
    prompt and padding positions.
    """
    import torch.nn.functional as F

    hidden = model.base_model(input_ids=ids, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep])


def evaluation_loss(
    model: PreTrainedModel, encoded: Sequence[EncodedExample], pad_id: int, batch_size: int = 64
) -> float | None:
    """Token-weighted mean loss over the SVG parts; None when there is nothing to evaluate."""
    import torch

    if not encoded:
        return None
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
    total = 0.0
    count = 0
    was_training = model.training
    model.eval()
    with torch.no_grad(), _autocast(device.type):
        for start in range(0, len(order), batch_size):
            batch = [encoded[i] for i in order[start : start + batch_size]]
            ids, labels, _ = collate(batch, pad_id)
            n = int((labels[:, 1:] != IGNORE).sum())
            loss = lm_loss(model, ids.to(device), labels.to(device))
            total += float(loss) * n
            count += n
    model.train(was_training)
    return total / max(1, count)


def _autocast(device_type: str) -> Any:
    import contextlib

    import torch

    if device_type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# --- checkpoints ---------------------------------------------------------------------------------------


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath))


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_path(path.parent)


def _publish_dir(tmp: Path, final: Path) -> None:
    """fsync a fully written temp dir and rename it into place, replacing any previous version."""
    _fsync_tree(tmp)
    if final.exists():
        trash = final.with_name(f".trash-{final.name}-{uuid.uuid4().hex}")
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, final)
    _fsync_path(final.parent)


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Complete checkpoints (with a manifest), oldest first."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith("step-") and (p / MANIFEST).is_file():
            try:
                found.append((int(json.loads((p / MANIFEST).read_text())["step"]), p))
            except (ValueError, KeyError, json.JSONDecodeError):
                continue  # a corrupt manifest is as good as none
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: Path) -> Path | None:
    ckpts = list_checkpoints(out_dir)
    return ckpts[-1] if ckpts else None


def save_checkpoint(
    out_dir: Path,
    step: int,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    state: dict[str, Any],
    manifest: dict[str, Any],
    keep: int = 2,
) -> Path:
    import torch

    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{step:08d}-{uuid.uuid4().hex}"
    tmp.mkdir()
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))  # standard HF layout: model and tokenizer side by side
    torch.save(state, tmp / TRAINER_STATE)
    final = root / f"step-{step:08d}"
    _publish_dir(tmp, final)
    write_json_atomic(final / MANIFEST, {**manifest, "step": step, "written_at": time.time()})
    for old in list_checkpoints(out_dir)[: -max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _clean_stale(out_dir: Path) -> None:
    """Remove temp dirs and manifest-less checkpoints left by a killed run."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return
    for p in root.iterdir():
        if p.is_dir() and (p.name.startswith((".tmp-", ".trash-")) or not (p / MANIFEST).exists()):
            shutil.rmtree(p, ignore_errors=True)


def _rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- the loop ------------------------------------------------------------------------------------------


def _optimizer(model: PreTrainedModel, config: TrainConfig) -> torch.optim.Optimizer:
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


def _texts_for_tokenizer(examples: Sequence[TrainExample]) -> Iterator[str]:
    for e in examples:
        yield prefix_text(e.prompt, e.context)
        yield e.svg


def configure_threads(num_threads: int | None) -> int:
    import torch

    n = num_threads or os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


class ThreadTuner:
    """Picks the fastest CPU thread count while training, and re-checks periodically.

    On a shared machine all-cores is often the worst choice: when another process holds a core, torch's
    threads wait for each other at every op and a tiny model runs several times slower than with one
    thread. So every `period_s` the next few steps are timed (seconds per token) with each candidate and
    the best one is kept. Only timing changes; the steps themselves are ordinary training steps.
    """

    def __init__(self, candidates: Sequence[int], period_s: float = 45.0, trial_steps: int = 3) -> None:
        import torch

        self.candidates = list(dict.fromkeys(candidates))
        self.best = self.candidates[0]
        self.period_s = period_s
        self.trial_steps = trial_steps
        self.current = torch.get_num_threads()
        self._queue: list[tuple[int, bool]] = []  # (threads, measured?) for the upcoming trial steps
        self._measured = False
        self._samples: dict[int, list[float]] = {}
        self._next_trial = time.perf_counter()

    def before_step(self) -> None:
        import torch

        if not self._queue and not self._samples and time.perf_counter() >= self._next_trial:
            # The first step after a switch warms the new thread pool: run it, don't time it.
            self._queue = [(c, k > 0) for c in self.candidates for k in range(self.trial_steps)]
            self._samples = {c: [] for c in self.candidates}
        threads, self._measured = self._queue.pop(0) if self._queue else (self.best, False)
        if threads != self.current:
            torch.set_num_threads(threads)
            self.current = threads

    def after_step(self, seconds: float, tokens: int) -> None:
        if self._measured and tokens:
            self._samples[self.current].append(seconds / tokens)
        if self._samples and not self._queue:
            timed = {c: sorted(s)[len(s) // 2] for c, s in self._samples.items() if s}
            if timed:
                self.best = min(timed, key=timed.__getitem__)
            self._samples = {}
            self._next_trial = time.perf_counter() + self.period_s


def train(
    config: TrainConfig,
    train_examples: Iterable[ExampleLike],
    val_examples: Iterable[ExampleLike],
    out_dir: Path,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    init_from: Path | None = None,
) -> TrainResult:
    """Train (or resume, or fine-tune from `init_from`) until max_steps / budget_seconds / should_stop().

    Resume wins over init_from: if out_dir holds a complete checkpoint, training continues from it
    (step count, optimizer, schedule, data order and RNG state).
    """
    import torch

    threads_before = torch.get_num_threads()
    try:
        return _train(config, train_examples, val_examples, out_dir, on_progress, should_stop, init_from)
    finally:
        torch.set_num_threads(threads_before)  # the tuner's choice must not leak into the caller


def _train(
    config: TrainConfig,
    train_examples: Iterable[ExampleLike],
    val_examples: Iterable[ExampleLike],
    out_dir: Path,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    init_from: Path | None,
) -> TrainResult:
    import torch

    if not config.max_steps and not config.budget_seconds:
        raise ValueError("set max_steps and/or budget_seconds")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale(out_dir)
    configure_threads(config.num_threads)
    device = pick_device(config.device)
    cores = os.cpu_count() or 1
    tuner = ThreadTuner([cores, 1]) if device == "cpu" and config.num_threads is None and cores > 1 else None
    train_list = [as_example(e) for e in train_examples]
    val_list = [as_example(e) for e in val_examples]
    if not train_list:
        raise ValueError("no training examples")

    resume = latest_checkpoint(out_dir)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    if resume is not None:
        tokenizer = load_tokenizer(tokenizer_dir(resume))
        model = load_model(resume)
    elif init_from is not None:
        # Fine-tuning keeps the base vocabulary: unseen text still encodes (as characters), ids stay valid.
        init_from = Path(init_from)
        tokenizer = load_tokenizer(tokenizer_dir(init_from))
        model = load_model(init_from)
    else:
        sample = train_list[: config.tokenizer_examples] if config.tokenizer_examples else train_list
        tokenizer = train_tokenizer(_texts_for_tokenizer(sample), vocab_size=config.vocab_size)
        model = build_model(config.model, tokenizer)
    model.to(device)
    model.train()
    fill_id = tokenizer.eos_token_id
    max_len = max_positions(model)
    encoded, skipped = encode_examples(tokenizer, train_list, max_len)
    val_encoded, _ = encode_examples(tokenizer, val_list, max_len)
    if not encoded:
        raise ValueError("every training example is longer than the model context")

    optimizer = _optimizer(model, config)
    schedule = Schedule(config)
    batcher = BucketBatcher(
        [len(e.ids) for e in encoded], config.batch_size, config.seed, config.bucket_batches
    )
    loss_ema: float | None = None
    if resume is not None:
        # map_location: a CUDA run's checkpoint must resume on a CPU-only host too.
        state = torch.load(resume / TRAINER_STATE, map_location="cpu", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        batcher.load_state_dict(state["batcher"])
        _set_rng_state(state["rng"])
        loss_ema = state.get("loss_ema")
    start_step = schedule.step
    params = count_parameters(model)
    last_ckpt: Path | None = resume

    def checkpoint() -> Path:
        state = {
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "batcher": batcher.state_dict(),
            "rng": _rng_state(),
            "loss_ema": loss_ema,
        }
        manifest = {"config": config.to_dict(), "elapsed_seconds": schedule.elapsed, "loss": loss_ema}
        return save_checkpoint(
            out_dir, schedule.step, model, tokenizer, state, manifest, config.keep_checkpoints
        )

    t0 = time.perf_counter()
    base_elapsed = schedule.elapsed
    tokens = 0
    window_tokens = 0
    window_t = t0
    status = "completed"
    while True:
        if should_stop is not None and should_stop():
            status = "cancelled"
            break
        if config.max_steps and schedule.step >= config.max_steps:
            break
        if config.budget_seconds and schedule.elapsed >= config.budget_seconds:
            break
        lr = schedule.lr()
        for group in optimizer.param_groups:
            group["lr"] = lr
        if tuner is not None:
            tuner.before_step()
        step_t0 = time.perf_counter()
        ids, labels, n_tok = collate([encoded[i] for i in next(batcher)], fill_id)
        with _autocast(device):
            loss = lm_loss(model, ids.to(device, non_blocking=True), labels.to(device, non_blocking=True))
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        loss_ema = value if loss_ema is None else 0.95 * loss_ema + 0.05 * value
        schedule.step += 1
        tokens += n_tok
        window_tokens += n_tok
        now = time.perf_counter()
        if tuner is not None:
            tuner.after_step(now - step_t0, n_tok)
        schedule.elapsed = base_elapsed + (now - t0)
        if config.checkpoint_every and schedule.step % config.checkpoint_every == 0:
            last_ckpt = checkpoint()
        if on_progress is not None and schedule.step % max(1, config.progress_every) == 0:
            now = time.perf_counter()
            rate = window_tokens / max(1e-9, now - window_t)
            window_tokens, window_t = 0, now
            on_progress(_progress(config, schedule, loss_ema, rate, schedule.step - start_step, now - t0, lr))

    loop_seconds = time.perf_counter() - t0
    if last_ckpt is None or last_ckpt.name != f"step-{schedule.step:08d}":
        last_ckpt = checkpoint()  # also the cancel-time checkpoint
    val_loss = evaluation_loss(model, val_encoded, fill_id, config.eval_batch_size)
    final_dir: Path | None = None
    result = TrainResult(
        status=status,
        steps=schedule.step,
        resumed_from_step=start_step,
        train_loss=float(loss_ema) if loss_ema is not None else float("nan"),
        val_loss=val_loss,
        val_perplexity=math.exp(min(val_loss, 50)) if val_loss is not None else None,
        tokens=tokens,
        train_seconds=loop_seconds,
        tokens_per_second=tokens / max(1e-9, loop_seconds),
        parameters=params,
        final_dir=None,
        last_checkpoint=last_ckpt,
        skipped_examples=skipped,
        threads=tuner.best if tuner is not None else torch.get_num_threads(),
    )
    if status == "completed":
        final_dir = write_final(out_dir, model, tokenizer, config, result, schedule.elapsed)
        result.final_dir = final_dir
    if on_progress is not None:
        on_progress(
            _progress(
                config,
                schedule,
                loss_ema,
                result.tokens_per_second,
                schedule.step - start_step,
                loop_seconds,
                schedule.lr(),
            )
        )
    return result


def _progress(
    config: TrainConfig,
    schedule: Schedule,
    loss: float | None,
    rate: float,
    steps_run: int,
    run_s: float,
    lr: float,
) -> Progress:
    step, elapsed = schedule.step, schedule.elapsed
    sec_per_step = run_s / steps_run if steps_run else 0.0
    etas, totals = [], []
    if config.max_steps:
        etas.append(max(0, config.max_steps - step) * sec_per_step)
        totals.append(config.max_steps)
    if config.budget_seconds:
        remaining = max(0.0, config.budget_seconds - elapsed)
        etas.append(remaining)
        totals.append(step + int(remaining / sec_per_step) if sec_per_step else step)
    return Progress(
        step=step,
        total_steps=max(step, min(totals)) if totals else step,
        loss=float(loss) if loss is not None else float("nan"),
        tokens_per_second=rate,
        eta_seconds=min(etas) if etas else 0.0,
        learning_rate=lr,
        elapsed_seconds=elapsed,
    )


def write_final(
    out_dir: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    config: TrainConfig,
    result: TrainResult,
    elapsed: float,
) -> Path:
    """out_dir/final: model (save_pretrained), tokenizer/ and manifest.json, published atomically."""
    final = Path(out_dir) / "final"
    tmp = Path(out_dir) / f".tmp-final-{uuid.uuid4().hex}"
    tmp.mkdir()
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))  # standard HF layout: model and tokenizer side by side
    metrics = {
        "steps": result.steps,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "val_perplexity": result.val_perplexity,
        "tokens_per_second": result.tokens_per_second,
        "training_seconds": elapsed,
        "parameters": result.parameters,
        "vocab_size": len(tokenizer),
        "skipped_examples": result.skipped_examples,
    }
    write_json_atomic(
        tmp / MANIFEST, {"config": config.to_dict(), "metrics": metrics, "written_at": time.time()}
    )
    _publish_dir(tmp, final)
    return final
