"""Visual fingerprints of training examples and the job that builds the vector index over them."""

from __future__ import annotations

from django.db import models

from core.jobs.models import Job
from training.models.examples import TrainingExample


class ExampleFingerprint(models.Model):
    """One example's fingerprint (core/svg/fingerprint.py). `key` is the example's key in the vector index
    (usearch keys are integers). An example whose SVG renders nothing keeps a row with `rendered=False`, so
    it is counted and not retried until its SVG changes."""

    key = models.BigAutoField(primary_key=True)
    example = models.OneToOneField(TrainingExample, on_delete=models.CASCADE, related_name="fingerprint")
    content_hash = models.CharField(max_length=64, help_text="The example's content_hash when computed.")
    rendered = models.BooleanField(default=True)
    phash = models.CharField(max_length=16, blank=True, help_text="imagehash's perceptual hash, hex.")
    vector = models.BinaryField(null=True, blank=True, help_text="float32 × 256, unit length.")
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"fingerprint of {self.example_id}"


class SimilarityIndexBuild(Job):
    """A background build: fingerprint what lacks one (or is stale), then write the vector index afresh."""

    exhausted_message = "The similarity index build did not finish after several attempts."

    examples_fingerprinted = models.PositiveIntegerField(default=0)
    examples_indexed = models.PositiveIntegerField(default=0)
    examples_without_rendering = models.PositiveIntegerField(default=0)
    backend = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta(Job.Meta):
        pass

    def __str__(self) -> str:
        return f"Similarity index build ({self.get_status_display()})"
