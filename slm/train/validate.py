"""What a run checks while it trains: the loss on the validation set and, for models that write the model
form, how close their greedy designs for validation prompts come to the references (ink IoU at 64 px,
core.svg.compare). On small real data sets the two disagree: the loss on unseen icons rises as the
model learns its training icons by heart, while its designs for unseen prompts keep getting better
(README, "Real design data"), so a run can keep the state its designs were best at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.svg.compare import blank_raster, ink_iou, try_rasterise
from slm.decode.sampling import DecodeRequest, Generator
from slm.form.decode import decode as decode_form
from slm.form.spec import FormSpec
from slm.train.config import TrainExample

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast


def design_iou(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    form: FormSpec,
    examples: Sequence[TrainExample],
    device: str,
    max_new_tokens: int,
) -> float:
    """Mean ink IoU of greedy designs against the examples' own (form-written) designs."""
    if not examples:
        return 0.0
    was_training = model.training
    model.eval()
    try:
        gen = Generator.from_loaded(model, tokenizer, form, device)
        requests = [
            DecodeRequest(e.prompt, context=e.context, max_new_tokens=max_new_tokens) for e in examples
        ]
        samples = gen.decode_all(requests)
    finally:
        model.train(was_training)
    scores = []
    for example, candidates in zip(examples, samples, strict=True):
        reference = try_rasterise(decode_form(example.svg, form).svg) or blank_raster()
        drawn = try_rasterise(candidates[0].text) if candidates and candidates[0].text else None
        scores.append(ink_iou(drawn or blank_raster(), reference))
    return sum(scores) / len(scores)
