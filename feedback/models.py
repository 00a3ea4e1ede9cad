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
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [models.Index(fields=["rating", "created_at"]), models.Index(fields=["output", "rating"])]

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


class ModelComparison(BaseModel):
    """Two model versions on one prompt set; each prompt's pair of designs is an ordinary generation."""

    model_a = models.ForeignKey("training.SLMModel", on_delete=models.CASCADE, related_name="+")
    model_b = models.ForeignKey("training.SLMModel", on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(
        "training.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200, blank=True)
    seed = models.BigIntegerField(default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta(BaseModel.Meta):
        constraints = [
            models.CheckConstraint(condition=~Q(model_a=models.F("model_b")), name="comparison_two_versions")
        ]

    def __str__(self) -> str:
        return self.title or f"{self.model_a} vs {self.model_b}"


class ComparisonItem(models.Model):
    comparison = models.ForeignKey(ModelComparison, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    prompt_text = models.TextField()
    output_a = models.ForeignKey(DesignOutput, on_delete=models.CASCADE, related_name="+")
    output_b = models.ForeignKey(DesignOutput, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["comparison", "position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="comparison_item_unique")
        ]

    def __str__(self) -> str:
        return self.prompt_text[:60]
