"""The training loop: budgeted, cancellable, resumable (see checkpoints), fine-tuning from a base model.

A run is set up once (`slm.train.setup`: device, resume point, model, data, optimiser, restored state), then
steps (`_step`) until a bound; rank 0 validates (`_validate`) and checkpoints (`_checkpoint`) on the
way and writes the result (`_finish`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from slm.base_lora import lora_load_state, merged
from slm.model import count_parameters, load_model
from slm.train.checkpoints import BEST, rng_state, save_best, save_checkpoint, write_final
from slm.train.config import ExampleLike, Progress, TrainConfig, TrainResult
from slm.train.data import collate
from slm.train.distributed import target_tokens
from slm.train.loss import autocast, evaluation_loss, lm_loss
from slm.train.memory import release_free_memory
from slm.train.schedule import progress_fraction, progress_report
from slm.train.setup import Run, setup_run
from slm.train.validate import design_iou

# How much worse (in its own units) a later check may score and still be kept: the IoU of 48 validation
# designs moves by about this much between two checks of the same quality.
SELECT_TOLERANCE = {"val_iou": 0.01}


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
        run = setup_run(config, train_examples, val_examples, Path(out_dir), init_from)
        return _loop(run, on_progress, should_stop)
    finally:
        torch.set_num_threads(threads_before)  # the tuner's choice must not leak into the caller
        release_free_memory()  # the steps' activations, kept mapped while training (slm.train.memory)


def _loop(
    run: Run, on_progress: Callable[[Progress], None] | None, should_stop: Callable[[], bool] | None
) -> TrainResult:
    """Step until max_steps, the time budget or a cancel; validate, checkpoint and report on the way."""
    config, schedule, dist = run.config, run.schedule, run.dist
    start_step = schedule.step
    t0 = time.perf_counter()
    base_elapsed = schedule.elapsed
    tokens = window_tokens = 0
    window_t = t0
    status = "running"
    checks = max(1, config.validations)
    done_checks = len(run.history)
    stopping = False
    if dist is not None:  # a cancel that arrived before the first step stops every rank there
        _, stopping, _ = dist.agree(0.0, should_stop is not None and should_stop(), base_elapsed, run.device)
    while True:
        if stopping or (dist is None and should_stop is not None and should_stop()):
            status = "cancelled"
            break
        if config.max_steps and schedule.step >= config.max_steps:
            break
        if config.budget_seconds and schedule.elapsed >= config.budget_seconds:
            break
        lr = schedule.lr()
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        if run.tuner is not None:
            run.tuner.before_step()
        step_t0 = time.perf_counter()
        value, n_tok = _step(run, next(run.batcher))
        now = time.perf_counter()
        clock = base_elapsed + (now - t0)
        if dist is not None:
            stop_here = should_stop is not None and should_stop()
            value, stopping, clock = dist.agree(value, stop_here, clock, run.device)
        run.loss_ema = value if run.loss_ema is None else 0.95 * run.loss_ema + 0.05 * value
        schedule.step += 1
        tokens += n_tok
        window_tokens += n_tok
        if run.tuner is not None:
            run.tuner.after_step(now - step_t0, n_tok)
        schedule.elapsed = clock
        progress = progress_fraction(config, schedule.step, schedule.elapsed)
        if (
            run.main
            and run.val_encoded
            and done_checks < checks - 1
            and progress >= (done_checks + 1) / checks
        ):
            _validate(run, final=False)  # the last check runs after the loop
            done_checks += 1
        if run.main and config.checkpoint_every and schedule.step % config.checkpoint_every == 0:
            run.last_ckpt = _checkpoint(run)
        if run.main and on_progress is not None and schedule.step % max(1, config.progress_every) == 0:
            now = time.perf_counter()
            rate = window_tokens / max(1e-9, now - window_t)
            window_tokens, window_t = 0, now
            on_progress(
                progress_report(
                    config, schedule, run.loss_ema, rate, schedule.step - start_step, now - t0, lr
                )
            )
    status = "completed" if status == "running" else status
    return _finish(run, status, tokens, start_step, time.perf_counter() - t0, on_progress)


def _step(run: Run, batch: list[int]) -> tuple[float, int]:
    """One optimiser step on a global batch: its loss (this rank's weighted share of it when
    distributed) and the global batch's real tokens."""
    import torch

    encoded, dist, device = run.encoded, run.dist, run.device
    pin = run.device_type == "cuda"  # page-locked batches copy to the GPU without blocking the host
    mine, counts = (batch, True) if dist is None else dist.shard(batch)
    ids, labels, n_tok = collate([encoded[i] for i in mine], run.fill_id)
    if pin:
        ids, labels = ids.pin_memory(), labels.pin_memory()
    ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    if dist is None:
        with autocast(run.device_type, run.cpu_bf16):
            loss = lm_loss(run.net, ids, labels)
        loss.backward()
        value = float(loss.detach())
    else:
        # This rank's share of the global batch, its loss weighted by its share of the batch's target
        # tokens: DDP's mean of the ranks' gradients is then the whole batch's gradient.
        total = target_tokens([len(encoded[i].ids) for i in batch], [encoded[i].prefix_len for i in batch])
        own = target_tokens([len(encoded[i].ids) for i in mine], [encoded[i].prefix_len for i in mine])
        share = own / max(1, total) if counts else 0.0
        with autocast(run.device_type, run.cpu_bf16):
            part = run.step_net(ids, labels)
        (part * (share * dist.world)).backward()
        value = float(part.detach()) * share  # the ranks' values sum to the global loss
        n_tok = sum(len(encoded[i].ids) for i in batch)  # the global batch's tokens
    if run.config.grad_clip:
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), run.config.grad_clip)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    return value, n_tok


def _validate(run: Run, final: bool) -> None:
    """Check the validation set now; keep these weights if they are the best so far."""
    config, schedule, select_by = run.config, run.schedule, run.select_by
    figures: dict[str, float] = {"step": float(schedule.step)}
    loss_value = evaluation_loss(run.net, run.val_encoded, run.fill_id, config.eval_batch_size)
    if loss_value is not None:
        figures["val_loss"] = loss_value
    # Designs are checked in the second half only: a run that learns its icons by heart draws
    # better the longer it trains, so earlier checks would cost time and never win.
    late = final or progress_fraction(config, schedule.step, schedule.elapsed) >= 0.5
    if select_by == "val_iou" and run.form is not None and late:
        figures["val_iou"] = design_iou(
            run.net, run.tokenizer, run.form, run.val_sample, run.device, run.longest
        )
    run.history.append(figures)
    if select_by == "last" or select_by not in figures:
        return
    score = figures[select_by] if select_by == "val_iou" else -figures[select_by]
    best = run.best
    # A later state within the noise of the best so far wins: it has learned more of its data.
    # ("score" is the best seen, so a run cannot drift down by a tolerance at every check.)
    if best is None or score >= float(best["score"]) - SELECT_TOLERANCE.get(select_by, 0.0):
        top = max(score, float(best["score"])) if best is not None else score
        run.best = {**figures, "score": top, "select_by": select_by}
        save_best(run.out_dir, run.model, run.tokenizer, run.best)


def _checkpoint(run: Run) -> Path:
    """An atomic checkpoint of everything a resume needs: weights, optimiser, schedule, data order, RNG."""
    state = {
        "optimizer": run.optimizer.state_dict(),
        "schedule": run.schedule.state_dict(),
        "batcher": run.batcher.state_dict(),  # the stream position (epoch, batch) a resume goes on from
        "data_key": run.data_key,
        "rng": rng_state(),
        "loss_ema": run.loss_ema,
        "validation": run.history,
    }
    manifest = {"config": run.config.to_dict(), "elapsed_seconds": run.schedule.elapsed, "loss": run.loss_ema}
    return save_checkpoint(
        run.out_dir, run.schedule.step, run.model, run.tokenizer, state, manifest, run.config.keep_checkpoints
    )


def _finish(
    run: Run,
    status: str,
    tokens: int,
    start_step: int,
    loop_seconds: float,
    on_progress: Callable[[Progress], None] | None,
) -> TrainResult:
    """On rank 0: the last validation and checkpoint, the best weights restored, the final model written."""
    import torch

    config, schedule = run.config, run.schedule
    result = TrainResult(
        status=status,
        steps=schedule.step,
        resumed_from_step=start_step,
        train_loss=float(run.loss_ema) if run.loss_ema is not None else float("nan"),
        val_loss=None,
        val_perplexity=None,
        tokens=tokens,
        train_seconds=loop_seconds,
        tokens_per_second=tokens / max(1e-9, loop_seconds),
        parameters=count_parameters(run.net),
        final_dir=None,
        last_checkpoint=None,
        skipped_examples=run.skipped,
    )
    if not run.main:  # rank 0 validates, checkpoints and writes the model; the others are done
        return result
    if (
        run.val_encoded
        and status == "completed"
        and (not run.history or run.history[-1]["step"] != schedule.step)
    ):
        _validate(run, final=True)
    if run.last_ckpt is None or run.last_ckpt.name != f"step-{schedule.step:08d}":
        run.last_ckpt = _checkpoint(run)  # also the cancel-time checkpoint
    if status == "completed" and run.best is not None and int(run.best["step"]) != schedule.step:
        # The run ends on the weights it validated best, not on whatever the last step left.
        if config.finetune == "lora":
            lora_load_state(run.model, run.out_dir / BEST)
        else:
            run.model.load_state_dict(load_model(run.out_dir / BEST).state_dict())
        result.kept_step = int(run.best["step"])
    val_loss = evaluation_loss(run.net, run.val_encoded, run.fill_id, config.eval_batch_size)
    result.val_loss = val_loss
    result.val_perplexity = math.exp(min(val_loss, 50)) if val_loss is not None else None
    result.last_checkpoint = run.last_ckpt
    result.threads = run.tuner.best if run.tuner is not None else torch.get_num_threads()
    result.validation = run.history
    if status == "completed":
        # A LoRA run registers the base with its adapters merged in: a plain model that serves as any.
        result.final_dir = write_final(
            run.out_dir, merged(run.model), run.tokenizer, config, result, schedule.elapsed
        )
    if on_progress is not None:
        rate = result.tokens_per_second
        on_progress(
            progress_report(
                config, schedule, run.loss_ema, rate, schedule.step - start_step, loop_seconds, schedule.lr()
            )
        )
    return result
