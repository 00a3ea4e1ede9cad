"""Training examples and the import batches that bring them in."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.fields import HttpsURLField
from core.jobs.models import Job
from core.models import SoftDeleteModel

USER = settings.AUTH_USER_MODEL


class ImportBatch(Job):
    """One import run: the log a curator reads (counts, status, per-row errors)."""

    exhausted_message = "The import did not finish after several attempts."

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSON Lines"
        CSV = "csv", "CSV"
        ZIP = "zip", "ZIP of SVG files"
        SVG_FOLDER = "svg_folder", "Folder of SVG files"
        ICON_SET = "icon_set", "Icon set (SVG + JSON sidecars)"

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
        SKIP_INVALID = "skip_invalid", "Skip invalid rows"

    source_name = models.CharField(max_length=500)
    source_path = models.CharField(max_length=1000, blank=True, editable=False)
    format = models.CharField(max_length=20, choices=Format.choices)

    class NearDuplicates(models.TextChoices):
        KEEP = "keep", "Keep near-duplicates (report them)"
        SKIP = "skip", "Skip near-duplicates (report them)"

    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    near_duplicates = models.CharField(
        max_length=10,
        choices=NearDuplicates.choices,
        default=NearDuplicates.KEEP,
        help_text="What to do with a row whose rendering is a near-duplicate of an existing example's.",
    )
    dry_run = models.BooleanField(default=False)
    default_status = models.CharField(max_length=20, default="draft")
    style_guide = models.ForeignKey("catalog.StyleGuide", null=True, blank=True, on_delete=models.SET_NULL)
    review_policy = models.ForeignKey(
        "training.ReviewPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The review queue the imported examples join; empty: one review decides.",
    )
    rows_read = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error_log = models.TextField(blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        verbose_name_plural = "import batches"
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [
            models.Index(fields=["format"]),
            models.Index(fields=["mode"]),
            models.Index(fields=["dry_run"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} ({self.get_status_display()})"


class TrainingExampleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class TrainingExample(SoftDeleteModel):
    Status = TrainingExampleStatus

    class SourceType(models.TextChoices):
        MANUAL = "manual", "Manual"
        JSONL = "jsonl", "JSONL import"
        CSV = "csv", "CSV import"
        SVG_FILES = "svg_files", "SVG files import"
        ICON_SET = "icon_set", "Icon set import"
        PATTERN = "pattern", "Design pattern expansion"
        SYNTHETIC = "synthetic", "Synthetic corpus"
        FEEDBACK = "feedback", "Promoted from feedback"

    prompt = models.TextField()
    svg_content = models.TextField(help_text="Sanitised, normalised SVG.")
    svg_file = models.CharField(max_length=1000, blank=True, help_text="Path of the source file, if any.")
    source_type = models.CharField(max_length=20, choices=SourceType.choices, default=SourceType.MANUAL)
    source_url = HttpsURLField(max_length=1000, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="examples"
    )
    external_id = models.CharField(max_length=255, blank=True)
    data_category = models.CharField(max_length=100, blank=True)
    tags = models.JSONField(default=list, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    style_guide = models.ForeignKey(
        "catalog.StyleGuide", null=True, blank=True, on_delete=models.SET_NULL, related_name="examples"
    )
    design_pattern = models.ForeignKey(
        "catalog.DesignPattern", null=True, blank=True, on_delete=models.SET_NULL, related_name="examples"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    quality_score = models.FloatField(
        null=True, blank=True, help_text="0 to 1: the mean of the review scores (1 to 5) mapped onto 0 to 1."
    )
    review_policy = models.ForeignKey(
        "training.ReviewPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="examples",
        help_text="The review queue this example is in; empty: one review decides.",
    )
    content_hash = models.CharField(max_length=64, editable=False, help_text="sha256 of the normalised SVG.")
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta(SoftDeleteModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TrainingExampleStatus.values), name="example_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(quality_score__isnull=True) | (Q(quality_score__gte=0) & Q(quality_score__lte=1)),
                name="example_quality_range",
            ),
            # Dedup: one live example per normalised design; upsert key: (source_type, external_id).
            models.UniqueConstraint(
                fields=["content_hash"], condition=Q(deleted_at__isnull=True), name="example_unique_content"
            ),
            models.UniqueConstraint(
                fields=["source_type", "external_id"],
                condition=Q(deleted_at__isnull=True) & ~Q(external_id=""),
                name="example_unique_external_id",
            ),
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [
            models.Index(fields=["data_category", "created_at"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["source_type", "data_category"]),
        ]

    def __str__(self) -> str:
        return self.prompt[:80]
