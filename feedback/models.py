from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import BaseModel, SoftDeleteModel
from generation.models import DesignOutput


class Feedback(SoftDeleteModel):
    output = models.ForeignKey("generation.DesignOutput", on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(help_text="1 (poor) to 5 (excellent).")
    comments = models.TextField(blank=True)

    class Meta(SoftDeleteModel.Meta):
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_range"
            ),
            models.UniqueConstraint(
                fields=["output", "user"],
                condition=Q(deleted_at__isnull=True),
                name="feedback_one_per_user_output",
            ),
        ]
        indexes = [models.Index(fields=["output", "rating"])]

    def __str__(self) -> str:
        return f"{self.rating}★ by {self.user_id}"


class Promotion(BaseModel):
    """Provenance of a training example promoted from a generated design."""

    example = models.OneToOneField(
        "training.TrainingExample", on_delete=models.CASCADE, related_name="promotion"
    )
    output = models.ForeignKey(
        "generation.DesignOutput", null=True, on_delete=models.SET_NULL, related_name="promotions"
    )
    sequence_order = models.PositiveSmallIntegerField(default=0)
    feedback = models.ForeignKey(
        Feedback, null=True, blank=True, on_delete=models.SET_NULL, related_name="promotions"
    )
    model_version = models.ForeignKey(
        "training.SLMModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Promotion of {self.output_id}"


class PromotionCandidate(DesignOutput):
    """Completed designs seen through the curation rule (feedback.services.CurationRule), for review."""

    class Meta:
        proxy = True
        verbose_name = "promotion candidate"
