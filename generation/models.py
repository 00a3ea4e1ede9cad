from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.jobs.models import Job, JobStatus
from core.models import BaseModel, SoftDeleteModel

USER = settings.AUTH_USER_MODEL


def _upload_key(prefix: str, ext: str) -> str:
    # Stored under a UUID key: the client's file name never reaches the storage path.
    return f"{prefix}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.{ext}"


def input_image_path(instance: InputImage, filename: str) -> str:
    return _upload_key("inputs", instance.file_type or "png")


def output_image_path(instance: OutputImage, filename: str) -> str:
    return _upload_key("outputs", instance.file_type or "png")


class ConversationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class Conversation(SoftDeleteModel):
    Status = ConversationStatus
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    context = models.JSONField(
        default=dict, blank=True, help_text="Carried to the next prompt: style guide, palette, template."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    total_messages = models.PositiveIntegerField(default=0)

    class Meta(SoftDeleteModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ConversationStatus.values), name="conversation_status_valid"
            )
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return self.title or f"Conversation {str(self.pk)[:8]}"


class Prompt(SoftDeleteModel):
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="prompts")
    text_content = models.TextField()
    # Mirrors its request's (DesignOutput's) job status.
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING)
    metadata = models.JSONField(default=dict, blank=True)
    template_version = models.ForeignKey(
        "catalog.PromptTemplateVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prompts",
    )
    template_variables = models.JSONField(default=dict, blank=True)
    style_guide = models.ForeignKey(
        "catalog.StyleGuide", null=True, blank=True, on_delete=models.SET_NULL, related_name="prompts"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="prompts"
    )

    class Meta(SoftDeleteModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values),
                name="prompt_status_valid",
            )
        ]
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.text_content[:80]


class InputImageFileType(models.TextChoices):
    PNG = "png", "PNG"
    JPEG = "jpeg", "JPEG"


class InputImage(BaseModel):
    FileType = InputImageFileType
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="input_images")
    file = models.FileField(upload_to=input_image_path, max_length=300)
    file_type = models.CharField(max_length=10, choices=FileType.choices)
    file_size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    analysis_metadata = models.JSONField(default=dict, blank=True)

    class Meta(BaseModel.Meta):
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [models.Index(fields=["file_type"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(file_type__in=InputImageFileType.values), name="inputimage_type_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_type} {self.width}x{self.height}"


class DesignOutput(Job):
    """The result of one prompt, and the job that makes it: status, timings, and its OutputImage rows."""

    exhausted_message = "Generation did not finish after several attempts. Please try again."

    class OutputType(models.TextChoices):
        SVG = "svg", "SVG design"

    prompt = models.OneToOneField(Prompt, on_delete=models.CASCADE, related_name="output")
    model_version = models.ForeignKey(
        "training.SLMModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs"
    )
    output_type = models.CharField(max_length=20, choices=OutputType.choices, default=OutputType.SVG)
    generated_at = models.DateTimeField(null=True, blank=True)
    design_metadata = models.JSONField(default=dict, blank=True)
    processing_time_ms = models.PositiveIntegerField(null=True, blank=True)
    requested_count = models.PositiveSmallIntegerField(default=1)
    seed = models.BigIntegerField(null=True, blank=True)
    temperature = models.FloatField(default=0.0)

    class Meta(Job.Meta):
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=2), name="output_temperature_range"
            ),
        ]
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [
            models.Index(fields=["output_type", "created_at"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["model_version", "status"]),
        ]

    def __str__(self) -> str:
        return f"Design {str(self.pk)[:8]} ({self.status})"


class OutputImageFileType(models.TextChoices):
    SVG = "svg", "SVG"
    PNG = "png", "PNG"


class OutputImage(BaseModel):
    FileType = OutputImageFileType
    output = models.ForeignKey(DesignOutput, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=output_image_path, max_length=300)
    file_type = models.CharField(max_length=10, choices=FileType.choices)
    file_size = models.PositiveIntegerField(default=0)
    sequence_order = models.PositiveSmallIntegerField(default=0)
    style_attributes = models.JSONField(default=dict, blank=True)

    class Meta(BaseModel.Meta):
        # Admin list filters (core.admin_paging: changelists stay fast on large tables).
        indexes = [models.Index(fields=["file_type"])]
        ordering = ["output", "sequence_order", "file_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["output", "sequence_order", "file_type"], name="outputimage_unique_slot"
            ),
            models.CheckConstraint(
                condition=Q(file_type__in=OutputImageFileType.values), name="outputimage_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence_order} {self.file_type}"


class ApiRequest(BaseModel):
    user = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_requests"
    )
    prompt = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_requests"
    )
    endpoint = models.CharField(max_length=300)
    method = models.CharField(max_length=10)
    request_time = models.DateTimeField(db_index=True)
    response_time = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    request_payload = models.JSONField(default=dict, blank=True)
    error_detail = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        verbose_name = "API request"
        # Admin list filters and orderings have an index each (large changelists).
        indexes = [
            models.Index(fields=["method", "request_time"]),
            models.Index(fields=["user", "request_time"]),
            models.Index(fields=["status_code"]),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.status_code}"


class DesignFingerprint(models.Model):
    """A generated design's visual fingerprint (core/svg/fingerprint.py), stored by the worker once the
    request completed, so `?neighbours=` and the design page's similar panel do not render it again. A
    design whose SVG renders nothing keeps a row with `rendered=False`."""

    image = models.OneToOneField(OutputImage, on_delete=models.CASCADE, related_name="fingerprint")
    rendered = models.BooleanField(default=True)
    phash = models.CharField(max_length=16, blank=True, help_text="imagehash's perceptual hash, hex.")
    vector = models.BinaryField(null=True, blank=True, help_text="float32 × 256, unit length.")
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"fingerprint of {self.image_id}"
