"""Dataset snapshots: frozen membership, their items, and the job that exports them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.jobs.models import Job
from core.models import BaseModel
from training.models.examples import TrainingExample

USER = settings.AUTH_USER_MODEL


class DatasetStatus(models.TextChoices):
    UPLOADING = "uploading", "Uploading"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    ERROR = "error", "Error"


class Dataset(BaseModel):
    """An immutable snapshot of examples: frozen membership, seeded split, content hash."""

    Status = DatasetStatus
    name = models.SlugField(max_length=120)
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROCESSING)
    record_count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    storage_path = models.CharField(
        max_length=1000, blank=True, help_text="JSONL export in the configured storage."
    )
    export_md5 = models.CharField(max_length=32, blank=True)
    export_jsonl = models.BooleanField(
        default=True, help_text="Also export a JSONL file (the Parquet shards are always written)."
    )
    export_manifest = models.JSONField(
        default=dict,
        blank=True,
        help_text="The Parquet export: each shard's split, rows, bytes and sha256; `complete` once all are stored.",
    )
    split = models.JSONField(
        default=dict, blank=True, help_text="Seed, ratios and counts of train/validation/test."
    )
    selection = models.JSONField(default=dict, blank=True, help_text="How the examples were chosen.")
    profile = models.JSONField(
        default=dict,
        blank=True,
        help_text="What training reads off it: the model-form grid, sequence lengths, designs the form "
        "cannot express (training.services.profiles).",
    )
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="dataset_name_version_unique"),
            models.CheckConstraint(
                condition=Q(status__in=DatasetStatus.values),
                name="dataset_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class DatasetItemSplit(models.TextChoices):
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"
    TEST = "test", "Test"


class DatasetItem(models.Model):
    """A frozen copy of one example in one snapshot: later edits to the example do not change it."""

    Split = DatasetItemSplit
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    example = models.ForeignKey(
        TrainingExample, null=True, blank=True, on_delete=models.SET_NULL, related_name="dataset_items"
    )
    split = models.CharField(max_length=12, choices=Split.choices)
    prompt = models.TextField()
    svg_content = models.TextField()
    context = models.TextField(blank=True, help_text="Conditioning text (style guide rules).")
    content_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "example"], name="dataset_item_unique"),
            models.CheckConstraint(
                condition=Q(split__in=DatasetItemSplit.values), name="dataset_item_split_valid"
            ),
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [models.Index(fields=["split"]), models.Index(fields=["dataset", "split"])]

    def __str__(self) -> str:
        return f"{self.dataset} · {self.prompt[:40]}"


class DatasetExport(Job):
    """The job that writes a snapshot's JSONL export; the snapshot's own status says whether it is ready."""

    exhausted_message = "The export did not finish after several attempts."

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="export_job")

    class Meta(Job.Meta):
        pass

    def __str__(self) -> str:
        return f"Export of {self.dataset} ({self.get_status_display()})"
