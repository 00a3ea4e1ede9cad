"""The training loop: budgeted, cancellable, resumable (see checkpoints), fine-tuning from a base model."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from slm.base import adapt_for_designs, lora_load_state, lora_resume, lora_wrap, merged, trainable
from slm.form.codec import FormSpec, form_units, units_of
from slm.model import build_model, count_parameters, load_model, max_positions, pick_device
from slm.tokenizer import load_tokenizer, prefix_text, tokenizer_dir, train_tokenizer
from slm.train.checkpoints import (
    BEST,
    clean_stale,
    latest_checkpoint,
    load_trainer_state,
    read_best,
    rng_state,
    save_best,
    save_checkpoint,
    set_rng_state,
    write_final,
)
from slm.train.config import ExampleLike, Progress, TrainConfig, TrainResult, as_example
from slm.train.data import (
    BucketBatcher,
    collate,
    encode_examples,
    tokenizer_texts,
    with_prompt_variants,
)
from slm.train.distributed import current as current_dist
from slm.train.distributed import target_tokens, wrap
from slm.train.loss import autocast, cpu_bf16_supported, evaluation_loss, lm_loss
from slm.train.schedule import Schedule, progress_fraction, progress_report
from slm.train.threads import ThreadTuner, configure_threads
from slm.train.validate import design_iou

# How much worse (in its own units) a later check may score and still be kept: the IoU of 48 validation
# designs moves by about this much between two checks of the same quality.
SELECT_TOLERANCE = {"val_iou": 0.01}

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel


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

    Started by torchrun as one of N processes (slm.train.launch), every rank runs this with the
    same arguments: each trains on its share of the same global batch (slm.train.distributed),
    rank 0 alone validates, checkpoints, reports and writes the final model.
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
    dist = current_dist()
    main = dist is None or dist.main
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if main:
        clean_stale(out_dir)
    configure_threads(config.num_threads)
    device = pick_device(config.device)
    if device.startswith("cuda"):
        fast_cuda_matmuls()
        if dist is not None:
            device = f"cuda:{dist.local_rank}"
    device_type = device.split(":")[0]
    cores = os.cpu_count() or 1
    tuner = (
        ThreadTuner([cores, 1])
        if device == "cpu" and config.num_threads is None and cores > 1 and dist is None
        else None
    )
    train_list = [as_example(e) for e in train_examples]
    val_list = [as_example(e) for e in val_examples]
    if not train_list:
        raise ValueError("no training examples")
    form = FormSpec.from_dict(config.svg_form)
    cpu_bf16 = cpu_bf16_supported() if config.cpu_bf16 is None else config.cpu_bf16
    if config.prompt_variants > 1:
        train_list = with_prompt_variants(train_list, config.prompt_variants, config.seed)

    resume = latest_checkpoint(out_dir)
    if dist is not None:
        dist.barrier()  # rank 0 has cleaned up; every rank resumes from the checkpoint rank 0 saw
        name = dist.broadcast(resume.name if resume is not None else None)
        resume = out_dir / "checkpoints" / name if name else None
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    lora = config.finetune == "lora"
    if lora and init_from is None:
        raise ValueError("LoRA fine-tunes a base model: give init_from")
    if resume is not None and lora:
        tokenizer = load_tokenizer(tokenizer_dir(resume))  # the base's, with our markers added
        model = load_model(init_from)
        adapt_for_designs(model, tokenizer)
        model = lora_resume(model, resume)
    elif resume is not None:
        tokenizer = load_tokenizer(tokenizer_dir(resume))
        model = load_model(resume)
    elif init_from is not None:
        # Fine-tuning keeps the base vocabulary: unseen text still encodes (as characters), ids stay valid.
        # A pretrained base gets our sequence markers as added special tokens (slm.base).
        init_from = Path(init_from)
        tokenizer = load_tokenizer(tokenizer_dir(init_from))
        model = load_model(init_from)
        new_ids = adapt_for_designs(model, tokenizer)
        if lora:
            model = lora_wrap(model, config.lora_rank, config.lora_alpha, config.lora_targets, new_ids)
    else:
        sample = train_list[: config.tokenizer_examples] if config.tokenizer_examples else train_list
        if form is None:
            tokenizer = train_tokenizer(tokenizer_texts(sample), vocab_size=config.vocab_size)
        else:  # BPE for the prompts; every unit of the form one token
            units = [*form_units(form.grid), *sorted(units_of(e.svg for e in train_list))]
            prompts = (prefix_text(e.prompt, e.context) for e in sample)
            tokenizer = train_tokenizer(prompts, vocab_size=config.vocab_size, units=units)
        model = build_model(config.model, tokenizer)
    model.to(device)
    model.train()
    net = trainable(model)  # what a step runs through (a LoRA model's base, its adapters in place)
    step_net = wrap(net, device) if dist is not None else None
    fill_id = tokenizer.eos_token_id
    max_len = max_positions(net)
    encoded, skipped = encode_examples(tokenizer, train_list, max_len)
    val_encoded, _ = encode_examples(tokenizer, val_list, max_len)
    if not encoded:
        raise ValueError("every training example is longer than the model context")

    optimizer = _optimizer(net, config)
    schedule = Schedule(config)
    batcher = BucketBatcher(
        [len(e.ids) for e in encoded], config.batch_size, config.seed, config.bucket_batches
    )
    loss_ema: float | None = None
    history: list[dict[str, float]] = []  # every validation check: step, val_loss[, val_iou]
    if resume is not None:
        state = load_trainer_state(resume)  # weights_only: never unpickles code
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        batcher.load_state_dict(state["batcher"])
        set_rng_state(state["rng"])
        loss_ema = state.get("loss_ema")
        history = list(state.get("validation", []))
    start_step = schedule.step
    params = count_parameters(net)
    last_ckpt: Path | None = resume
    best = read_best(out_dir) if resume is not None else None
    select_by = config.select_by if val_list else "last"
    if select_by == "val_iou" and form is None:
        select_by = "val_loss"  # designs are compared as pictures only for the model form
    val_sample = val_list[: config.validation_prompts]
    longest = max(len(e.ids) for e in encoded)

    def validate() -> None:
        """Check the validation set now; keep these weights if they are the best so far."""
        nonlocal best
        figures: dict[str, float] = {"step": float(schedule.step)}
        loss_value = evaluation_loss(net, val_encoded, fill_id, config.eval_batch_size)
        if loss_value is not None:
            figures["val_loss"] = loss_value
        # Designs are checked in the second half only: a run that learns its icons by heart draws
        # better the longer it trains, so earlier checks would cost time and never win.
        late = progress_fraction(config, schedule.step, schedule.elapsed) >= 0.5 or status != "running"
        if select_by == "val_iou" and form is not None and late:
            figures["val_iou"] = design_iou(net, tokenizer, form, val_sample, device, longest)
        history.append(figures)
        if select_by == "last" or select_by not in figures:
            return
        score = figures[select_by] if select_by == "val_iou" else -figures[select_by]
        # A later state within the noise of the best so far wins: it has learned more of its data.
        # ("score" is the best seen, so a run cannot drift down by a tolerance at every check.)
        if best is None or score >= float(best["score"]) - SELECT_TOLERANCE.get(select_by, 0.0):
            top = max(score, float(best["score"])) if best is not None else score
            best = {**figures, "score": top, "select_by": select_by}
            save_best(out_dir, model, tokenizer, best)

    def checkpoint() -> Path:
        state = {
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "batcher": batcher.state_dict(),
            "rng": rng_state(),
            "loss_ema": loss_ema,
            "validation": history,
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
    status = "running"
    checks = max(1, config.validations)
    done_checks = len(history)
    pin = device_type == "cuda"  # page-locked batches copy to the GPU without blocking the host
    stopping = False
    if dist is not None:  # a cancel that arrived before the first step stops every rank there
        _, stopping, _ = dist.agree(0.0, should_stop is not None and should_stop(), base_elapsed, device)
    while True:
        if stopping or (dist is None and should_stop is not None and should_stop()):
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
        batch = next(batcher)
        if dist is None:
            ids, labels, n_tok = collate([encoded[i] for i in batch], fill_id)
            if pin:
                ids, labels = ids.pin_memory(), labels.pin_memory()
            with autocast(device_type, cpu_bf16):
                loss = lm_loss(net, ids.to(device, non_blocking=True), labels.to(device, non_blocking=True))
            loss.backward()
            value = float(loss.detach())
        else:
            # This rank's share of the global batch, its loss weighted by its share of the batch's target
            # tokens: DDP's mean of the ranks' gradients is then the whole batch's gradient.
            mine, counts = dist.shard(batch)
            ids, labels, _ = collate([encoded[i] for i in mine], fill_id)
            if pin:
                ids, labels = ids.pin_memory(), labels.pin_memory()
            total = target_tokens(
                [len(encoded[i].ids) for i in batch], [encoded[i].prefix_len for i in batch]
            )
            own = target_tokens([len(encoded[i].ids) for i in mine], [encoded[i].prefix_len for i in mine])
            share = own / max(1, total) if counts else 0.0
            with autocast(device_type, cpu_bf16):
                part = step_net(ids.to(device, non_blocking=True), labels.to(device, non_blocking=True))
            (part * (share * dist.world)).backward()
            n_tok = sum(len(encoded[i].ids) for i in batch)  # the global batch's tokens
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        now = time.perf_counter()
        if dist is not None:
            stop_here = should_stop is not None and should_stop()
            value, stopping, clock = dist.agree(
                float(part.detach()) * share, stop_here, base_elapsed + (now - t0), device
            )
        loss_ema = value if loss_ema is None else 0.95 * loss_ema + 0.05 * value
        schedule.step += 1
        tokens += n_tok
        window_tokens += n_tok
        if tuner is not None:
            tuner.after_step(now - step_t0, n_tok)
        schedule.elapsed = base_elapsed + (now - t0) if dist is None else clock
        progress = progress_fraction(config, schedule.step, schedule.elapsed)
        if main and val_list and done_checks < checks - 1 and progress >= (done_checks + 1) / checks:
            validate()  # the last check runs after the loop
            done_checks += 1
        if main and config.checkpoint_every and schedule.step % config.checkpoint_every == 0:
            last_ckpt = checkpoint()
        if main and on_progress is not None and schedule.step % max(1, config.progress_every) == 0:
            now = time.perf_counter()
            rate = window_tokens / max(1e-9, now - window_t)
            window_tokens, window_t = 0, now
            on_progress(
                progress_report(config, schedule, loss_ema, rate, schedule.step - start_step, now - t0, lr)
            )

    if status == "running":
        status = "completed"
    loop_seconds = time.perf_counter() - t0
    if not main:  # rank 0 validates, checkpoints and writes the model; the others are done
        return TrainResult(
            status=status,
            steps=schedule.step,
            resumed_from_step=start_step,
            train_loss=float(loss_ema) if loss_ema is not None else float("nan"),
            val_loss=None,
            val_perplexity=None,
            tokens=tokens,
            train_seconds=loop_seconds,
            tokens_per_second=tokens / max(1e-9, loop_seconds),
            parameters=params,
            final_dir=None,
            last_checkpoint=None,
            skipped_examples=skipped,
        )
    if val_list and status == "completed" and (not history or history[-1]["step"] != schedule.step):
        validate()
    if last_ckpt is None or last_ckpt.name != f"step-{schedule.step:08d}":
        last_ckpt = checkpoint()  # also the cancel-time checkpoint
    kept_step = None
    if status == "completed" and best is not None and int(best["step"]) != schedule.step:
        # The run ends on the weights it validated best, not on whatever the last step left.
        if lora:
            lora_load_state(model, Path(out_dir) / BEST)
        else:
            kept = load_model(Path(out_dir) / BEST)
            model.load_state_dict(kept.state_dict())
        kept_step = int(best["step"])
    val_loss = evaluation_loss(net, val_encoded, fill_id, config.eval_batch_size)
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
        kept_step=kept_step,
        validation=history,
    )
    if status == "completed":
        # A LoRA run registers the base with its adapters merged in: a plain model that serves as any.
        final_dir = write_final(out_dir, merged(model), tokenizer, config, result, schedule.elapsed)
        result.final_dir = final_dir
    if on_progress is not None:
        on_progress(
            progress_report(
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


def fast_cuda_matmuls() -> None:
    """TF32 for float32 matrix products and convolutions on GPUs that have it (Ampere and later):
    the parts bf16 autocast leaves in float32 (the loss, norms, the optimiser) run several times faster."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
