"""Writes of feedback: ratings, promotion of designs into training data with provenance, curation rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg, Q
from django.utils import timezone

from core import events
from core.jobs.models import JobStatus
from core.svg import SvgError, clean_svg
from feedback.errors import FeedbackErrorCode
from feedback.models import Feedback, Promotion
from generation.models import DesignOutput, OutputImage
from training.models import TrainingExample
from training.services.given_reviews import given_status


@transaction.atomic
def feedback_upsert(*, output: DesignOutput, user: Any, rating: int, comments: str = "") -> Feedback:
    """One rating per user and output; a second call edits the author's own rating."""
    if output.prompt.user_id != user.pk and not user.is_staff:
        # Consumers rate their own designs; staff (curators) may rate any.
        raise PermissionDenied("You can only rate your own designs.")
    if output.status != JobStatus.COMPLETED:
        message = "Only a completed design can be rated."
        raise ValidationError({"output": ValidationError(message, code=FeedbackErrorCode.NOT_RATEABLE)})
    if output.prompt.deleted_at is not None:
        message = "This generation was deleted; it cannot be rated."
        raise ValidationError({"output": ValidationError(message, code=FeedbackErrorCode.NOT_RATEABLE)})
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationError({"rating": "Rating must be a whole number from 1 to 5."})
    feedback = Feedback.objects.select_for_update().filter(output=output, user=user).first()
    created = feedback is None
    if feedback is None:
        feedback = Feedback(output=output, user=user)
    feedback.rating, feedback.comments = rating, (comments or "")[:5000]
    feedback.full_clean()
    feedback.save()
    if created:
        summary = {"rating": rating, "generation_id": str(output.pk), "has_comment": bool(feedback.comments)}
        url = events.api_url("feedback-detail", pk=feedback.pk)
        events.event_emit(type=events.FEEDBACK_CREATED, obj_id=feedback.pk, url=url, summary=summary)
    return feedback


@transaction.atomic
def feedback_update(
    *, feedback: Feedback, user: Any, rating: int | None = None, comments: str | None = None
) -> Feedback:
    if feedback.user_id != user.pk:
        raise PermissionDenied("Only its author can edit a rating.")
    return feedback_upsert(
        output=feedback.output,
        user=user,
        rating=feedback.rating if rating is None else rating,
        comments=feedback.comments if comments is None else comments,
    )


def _output_svgs(output: DesignOutput) -> list[OutputImage]:
    return list(output.images.filter(file_type=OutputImage.FileType.SVG).order_by("sequence_order"))


@transaction.atomic
def output_promote(
    *,
    output: DesignOutput,
    promoted_by: Any,
    status: str = TrainingExample.Status.DRAFT,
    feedback: Feedback | None = None,
    sequence_order: int | None = None,
) -> list[TrainingExample]:
    """Add a generated design to the training data, carrying its provenance (output, prompt, feedback, model)."""
    if status not in (TrainingExample.Status.DRAFT, TrainingExample.Status.APPROVED):
        raise ValidationError({"status": "Promote as draft or approved."})
    if output.status != JobStatus.COMPLETED:
        raise ValidationError(
            {"output": f"Only a completed design can be promoted (this one is {output.status})."}
        )
    images = _output_svgs(output)
    if sequence_order is not None:
        images = [i for i in images if i.sequence_order == sequence_order]
    if not images:
        raise ValidationError({"output": "This output has no stored SVG design to promote."})
    if feedback is None:
        feedback = output.feedback.order_by("-rating", "-created_at").first()
    # Promoting as approved is the promoter's accept review (training.services.given_reviews).
    given = given_status(status=status, policy=None, reviewer=promoted_by, comment="Promoted from feedback.")
    created = []
    for image in images:
        with image.file.open("rb") as fh:
            raw = fh.read()
        try:
            clean = clean_svg(raw)
        except SvgError as exc:
            raise ValidationError(
                {"output": f"Design #{image.sequence_order} is not a valid SVG: {exc}"}
            ) from exc
        if TrainingExample.objects.filter(content_hash=clean.content_hash).exists():
            raise ValidationError(
                {"output": f"Design #{image.sequence_order} is already in the training data."}
            )
        prompt = output.prompt
        example = TrainingExample(
            prompt=prompt.text_content,
            svg_content=clean.svg,
            content_hash=clean.content_hash,
            source_type=TrainingExample.SourceType.FEEDBACK,
            style_guide=prompt.style_guide,
            metadata={
                "output_id": str(output.pk),
                "prompt_id": str(prompt.pk),
                "sequence_order": image.sequence_order,
                "model_version": str(output.model_version) if output.model_version_id else None,
                "feedback_id": str(feedback.pk) if feedback else None,
            },
            **given.example_fields(timezone.now()),
        )
        example.full_clean(exclude=["content_hash"])
        example.save()
        given.reviews_create([example])
        Promotion.objects.create(
            example=example,
            output=output,
            sequence_order=image.sequence_order,
            feedback=feedback,
            model_version=output.model_version,
            promoted_by=promoted_by if getattr(promoted_by, "pk", None) else None,
        )
        created.append(example)
    return created


@dataclass(frozen=True)
class CurationRule:
    """Candidates for promotion: well rated by enough people, valid, not already (nearly) present."""

    min_mean_rating: float = 4.0
    min_raters: int = 2


def promotion_candidates(*, rule: CurationRule | None = None, limit: int = 200) -> list[dict[str, Any]]:
    from feedback.selectors import promotion_candidate_list

    rule = rule or CurationRule()
    outputs = promotion_candidate_list(
        min_mean_rating=rule.min_mean_rating, min_raters=rule.min_raters
    ).order_by("-mean", "-raters")[:limit]
    candidates = []
    for output in outputs:
        reasons = []
        for image in _output_svgs(output)[:1]:
            with image.file.open("rb") as fh:
                try:
                    clean = clean_svg(fh.read())
                except SvgError as exc:
                    reasons.append(f"invalid SVG: {exc}")
                    continue
            if TrainingExample.objects.filter(content_hash=clean.content_hash).exists():
                reasons.append("a near-duplicate (same normalised design) is already in the training data")
        candidates.append(
            {
                "output": output,
                "mean_rating": round(output.mean, 2),
                "raters": output.raters,
                "eligible": not reasons,
                "reasons": reasons,
            }
        )
    return candidates


def preference_pairs(*, min_gap: int = 2) -> Iterator[dict[str, Any]]:
    """(preferred, rejected) designs for the same prompt text, by mean rating, as JSONL-ready dicts."""
    rated = (
        DesignOutput.objects.filter(status=JobStatus.COMPLETED)
        .annotate(mean=Avg("feedback__rating", filter=Q(feedback__deleted_at__isnull=True)))
        .filter(mean__isnull=False)
        .select_related("prompt")
        .order_by("prompt__text_content", "-mean")
    )
    by_prompt: dict[str, list[DesignOutput]] = {}
    for output in rated:
        by_prompt.setdefault(output.prompt.text_content, []).append(output)
    for prompt, outputs in by_prompt.items():
        best, worst = outputs[0], outputs[-1]
        if best.pk == worst.pk or best.mean - worst.mean < min_gap:
            continue
        chosen, rejected = _output_svgs(best), _output_svgs(worst)
        if not chosen or not rejected:
            continue
        yield {
            "prompt": prompt,
            "chosen": _read(chosen[0]),
            "rejected": _read(rejected[0]),
            "chosen_rating": round(best.mean, 2),
            "rejected_rating": round(worst.mean, 2),
            "chosen_output": str(best.pk),
            "rejected_output": str(worst.pk),
        }


def _read(image: OutputImage) -> str:
    with image.file.open("rb") as fh:
        return fh.read().decode("utf-8", "replace")


def preference_pairs_jsonl(*, min_gap: int = 2) -> Iterator[bytes]:
    for pair in preference_pairs(min_gap=min_gap):
        yield (json.dumps(pair, ensure_ascii=False) + "\n").encode()


COMPARISON_MAX_PROMPTS = 100


@transaction.atomic
def model_comparison_create(
    *,
    model_a: Any,
    model_b: Any,
    prompts: list[str],
    requested_by: Any,
    dataset: Any = None,
    seed: int = 0,
    title: str = "",
) -> Any:
    """Queue each prompt on both versions (same seed, greedy) as ordinary generations owned by the curator."""
    from feedback.models import ComparisonItem, ModelComparison
    from generation.services.requests import generation_create

    prompts = [" ".join(p.split()) for p in prompts if p and p.strip()]
    if model_a.pk == model_b.pk:
        raise ValidationError({"model_b": "Choose two different model versions."})
    if not prompts:
        raise ValidationError({"prompts": "Give at least one prompt."})
    if len(prompts) > COMPARISON_MAX_PROMPTS:
        raise ValidationError({"prompts": f"At most {COMPARISON_MAX_PROMPTS} prompts per comparison."})
    comparison = ModelComparison(
        model_a=model_a,
        model_b=model_b,
        dataset=dataset,
        seed=seed,
        title=title[:200],
        requested_by=requested_by,
    )
    comparison.full_clean()
    comparison.save()
    for position, prompt in enumerate(prompts):
        outputs = [
            generation_create(
                user=requested_by, text=prompt, model=str(m.pk), count=1, seed=seed, temperature=0.0
            )
            for m in (model_a, model_b)
        ]
        ComparisonItem.objects.create(
            comparison=comparison,
            position=position,
            prompt_text=prompt,
            output_a=outputs[0],
            output_b=outputs[1],
        )
    return comparison
