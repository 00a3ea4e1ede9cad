from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.fields import HttpsURLField
from core.jobs.models import Job
from core.models import BaseModel, SoftDeleteModel

USER = settings.AUTH_USER_MODEL


def validate_alias_name(value: str) -> None:
    """An alias name never reads as another way of naming a version (training.selectors.model_version_resolve
    tries a version id first, then `name:version`, then an alias): not a UUID, not `name:version`."""
    if ":" in value:
        raise ValidationError("An alias name cannot contain ':' (name:version names a version).")
    try:
        uuid.UUID(value)
    except ValueError:
        return
    raise ValidationError("An alias name cannot be a UUID (UUIDs name model versions).")


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
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    dry_run = models.BooleanField(default=False)
    default_status = models.CharField(max_length=20, default="draft")
    style_guide = models.ForeignKey("catalog.StyleGuide", null=True, blank=True, on_delete=models.SET_NULL)
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
        indexes = [models.Index(fields=["status", "created_at"])]

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
    quality_score = models.FloatField(null=True, blank=True, help_text="0 to 1.")
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
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["source_type", "data_category"]),
        ]

    def __str__(self) -> str:
        return self.prompt[:80]


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
        indexes = [models.Index(fields=["dataset", "split"])]

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


class ComputeType(models.TextChoices):
    """CTranslate2's compute types a model version may be served (and evaluated) in."""

    FLOAT32 = "float32", "float32"
    INT8 = "int8", "int8"


class SLMModelStrategy(models.TextChoices):
    FROM_SCRATCH = "from_scratch", "From scratch"
    FINE_TUNE = "fine_tune", "Fine-tune"
    PRETRAINED = "pretrained", "Pretrained (imported base model)"


class SLMModel(BaseModel):
    """One trained model version in the registry."""

    Strategy = SLMModelStrategy
    model_name = models.SlugField(max_length=120, default="atelier-slm")
    version = models.PositiveIntegerField()
    architecture = models.CharField(max_length=60, default="gpt2")
    model_config = models.JSONField(default=dict, blank=True)
    storage_path = models.CharField(
        max_length=1000, blank=True, help_text="Artifacts in the configured storage."
    )
    trained_at = models.DateTimeField(null=True, blank=True)
    last_fine_tuned = models.DateTimeField(null=True, blank=True)
    base_model = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fine_tuned_versions"
    )
    training_strategy = models.CharField(
        max_length=20, choices=Strategy.choices, default=Strategy.FROM_SCRATCH
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="models"
    )
    metrics = models.JSONField(default=dict, blank=True)
    gallery = models.JSONField(
        default=list, blank=True, help_text="Reference and generated designs of its evaluation, as SVG."
    )
    parameter_count = models.PositiveBigIntegerField(default=0)
    compute_type = models.CharField(
        max_length=12,
        choices=ComputeType.choices,
        default=ComputeType.FLOAT32,
        help_text="How CTranslate2 computes this version when serving it. int8 only after an int8 "
        "evaluation stored its metrics beside float32's.",
    )
    notes = models.TextField(blank=True)

    class Meta(BaseModel.Meta):
        verbose_name = "model version"
        constraints = [
            models.UniqueConstraint(fields=["model_name", "version"], name="slmmodel_name_version_unique"),
            models.CheckConstraint(
                condition=Q(training_strategy__in=SLMModelStrategy.values),
                name="slmmodel_strategy_valid",
            ),
        ]
        permissions = [("move_production_alias", "Can move the production alias")]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version}"


class ModelAlias(BaseModel):
    name = models.SlugField(max_length=60, unique=True, validators=[validate_alias_name])
    model_version = models.ForeignKey(SLMModel, on_delete=models.PROTECT, related_name="aliases")
    updated_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(BaseModel.Meta):
        verbose_name_plural = "model aliases"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.model_version}"


class ModelAliasEvent(BaseModel):
    """Every move of an alias: which version was live when, and who moved it."""

    alias = models.ForeignKey(ModelAlias, on_delete=models.CASCADE, related_name="events")
    from_version = models.ForeignKey(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_version = models.ForeignKey(SLMModel, null=True, on_delete=models.SET_NULL, related_name="+")
    moved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why ML staff moved production to a version whose verdict is “not learned”.",
    )

    class Meta(BaseModel.Meta):
        indexes = [models.Index(fields=["alias", "created_at"])]

    def __str__(self) -> str:
        return f"{self.alias.name}: {self.from_version} → {self.to_version}"


class TrainingRun(Job):
    exhausted_message = "The run did not finish after several attempts."

    class TrainingType(models.TextChoices):
        FROM_SCRATCH = "from_scratch", "From scratch"
        FINE_TUNE = "fine_tune", "Fine-tune"

    model_name = models.SlugField(max_length=120, default="atelier-slm")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="training_runs")
    base_model = models.ForeignKey(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    result_model = models.OneToOneField(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_run"
    )
    training_type = models.CharField(
        max_length=20, choices=TrainingType.choices, default=TrainingType.FROM_SCRATCH
    )
    training_params = models.JSONField(default=dict, blank=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    tokens_per_second = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    promote_to = models.SlugField(
        max_length=60,
        blank=True,
        validators=[validate_alias_name],
        help_text="Alias to point at the result when done.",
    )
    promote_override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Move production to the result even if its verdict is “not learned”, for this reason.",
    )
    requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Run {str(self.pk)[:8]} on {self.dataset}"


class TrainingRunEventLevel(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class TrainingRunEvent(models.Model):
    Level = TrainingRunEventLevel
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=TrainingRunEventLevel.values), name="runevent_level_valid"
            )
        ]

    def __str__(self) -> str:
        return f"[{self.level}] {self.message[:60]}"


class TrainingMetric(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    name = models.CharField(max_length=60)
    value = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "name", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "name", "step"], name="metric_unique_point")]

    def __str__(self) -> str:
        return f"{self.name}@{self.step}={self.value:.4g}"


class ModelEvaluation(Job):
    exhausted_message = "The evaluation did not finish after several attempts."

    model_version = models.ForeignKey(SLMModel, on_delete=models.CASCADE, related_name="evaluations")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    compute_type = models.CharField(max_length=12, choices=ComputeType.choices, default=ComputeType.FLOAT32)
    metrics = models.JSONField(default=dict, blank=True)
    gallery = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        pass

    def __str__(self) -> str:
        return f"Evaluation of {self.model_version} ({self.status})"


class BaseModelImport(Job):
    """One base-model import (training.services.base_models): its source is checked and registered by a
    worker; the row shows the step, the progress, the reason it was refused, and the model it made."""

    exhausted_message = "The base-model import did not finish after several attempts."

    model_name = models.SlugField(max_length=120)
    source = models.CharField(max_length=1000, editable=False)  # a path, storage:PREFIX, or a stored upload
    source_name = models.CharField(max_length=500)
    stored_upload = models.BooleanField(default=False, editable=False)  # `source` is ours: deleted after
    step = models.CharField(max_length=200, blank=True)
    result_model = models.ForeignKey(
        SLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(Job.Meta):
        pass

    def __str__(self) -> str:
        return f"Import of {self.source_name} as {self.model_name} ({self.get_status_display()})"
