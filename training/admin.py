from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import BaseAdmin, ReadOnlyAdmin, SoftDeleteAdmin
from training import selectors
from training.models import (
    Dataset,
    DatasetItem,
    ImportBatch,
    ModelAlias,
    ModelAliasEvent,
    ModelEvaluation,
    SLMModel,
    TrainingExample,
    TrainingMetric,
    TrainingRun,
    TrainingRunEvent,
)


@admin.register(TrainingExample)
class TrainingExampleAdmin(SoftDeleteAdmin):
    list_display = ("short_prompt", "status", "quality_score", "source_type", "data_category", "style_guide",
                    "design_pattern", "import_batch", "created_at")
    list_filter = ("status", "source_type", "data_category", "style_guide", "design_pattern")
    search_fields = ("prompt", "external_id", "content_hash", "data_category")
    autocomplete_fields = ("style_guide", "design_pattern", "import_batch")
    readonly_fields = ("content_hash", "reviewed_by", "reviewed_at", "source_line")
    date_hierarchy = "created_at"
    list_select_related = ("style_guide", "design_pattern", "import_batch")

    def selector_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_example_list(include_deleted=True)

    @admin.display(description="prompt", ordering="prompt")
    def short_prompt(self, obj: TrainingExample) -> str:
        return obj.prompt[:80]


@admin.register(ImportBatch)
class ImportBatchAdmin(BaseAdmin):
    list_display = ("source_name", "format", "mode", "dry_run", "status", "rows_read", "rows_valid", "rows_invalid",
                    "rows_duplicate", "rows_created", "created_by", "created_at")
    list_filter = ("status", "format", "mode", "dry_run")
    search_fields = ("source_name",)
    readonly_fields = ("source_path", "status", "rows_read", "rows_valid", "rows_invalid", "rows_duplicate",
                       "rows_created", "rows_updated", "progress", "report", "error_log", "started_at",
                       "finished_at", "heartbeat_at", "created_by")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.import_batch_list()


@admin.register(Dataset)
class DatasetAdmin(BaseAdmin):
    list_display = ("name", "version", "status", "record_count", "size_bytes", "short_hash", "created_by", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "content_hash", "description")
    readonly_fields = ("version", "status", "record_count", "size_bytes", "content_hash", "storage_path",
                       "export_md5", "split", "selection", "error_message", "created_by")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.dataset_list()

    @admin.display(description="content hash")
    def short_hash(self, obj: Dataset) -> str:
        return obj.content_hash[:12]


@admin.register(DatasetItem)
class DatasetItemAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "split", "short_prompt", "content_hash")
    list_filter = ("split",)
    search_fields = ("prompt", "content_hash", "dataset__name")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.dataset_item_list()

    @admin.display(description="prompt")
    def short_prompt(self, obj: DatasetItem) -> str:
        return obj.prompt[:80]


@admin.register(SLMModel)
class SLMModelAdmin(BaseAdmin):
    list_display = ("__str__", "architecture", "training_strategy", "alias_names", "parameter_count", "dataset",
                    "base_model", "trained_at")
    list_filter = ("architecture", "training_strategy", "model_name")
    search_fields = ("model_name", "notes")
    readonly_fields = ("model_name", "version", "architecture", "model_config", "storage_path", "trained_at",
                       "last_fine_tuned", "base_model", "training_strategy", "dataset", "metrics", "parameter_count")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_version_list()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from finished training runs

    @admin.display(description="aliases")
    def alias_names(self, obj: SLMModel) -> str:
        return ", ".join(a.name for a in obj.aliases.all())


class ModelAliasEventInline(admin.TabularInline):
    model = ModelAliasEvent
    fk_name = "alias"
    extra = 0
    fields = ("created_at", "from_version", "to_version", "moved_by", "note")
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(ModelAlias)
class ModelAliasAdmin(BaseAdmin):
    list_display = ("name", "model_version", "updated_by", "updated_at")
    search_fields = ("name",)
    autocomplete_fields = ("model_version",)
    readonly_fields = ("updated_by",)
    inlines = [ModelAliasEventInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_alias_list()


@admin.register(ModelAliasEvent)
class ModelAliasEventAdmin(ReadOnlyAdmin):
    list_display = ("alias", "from_version", "to_version", "moved_by", "created_at", "note")
    list_filter = ("alias__name",)
    search_fields = ("alias__name", "note")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_alias_event_list()


@admin.register(TrainingRun)
class TrainingRunAdmin(BaseAdmin):
    list_display = ("__str__", "status", "progress_pct", "step", "loss", "training_type", "result_model",
                    "requested_by", "created_at")
    list_filter = ("status", "training_type")
    search_fields = ("id", "dataset__name", "model_name", "error_message")
    autocomplete_fields = ("dataset", "base_model")
    readonly_fields = ("status", "progress", "step", "total_steps", "loss", "tokens_per_second", "eta_seconds",
                       "error_message", "started_at", "finished_at", "cancel_requested", "worker_id",
                       "heartbeat_at", "attempts", "result_model", "requested_by")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_run_list()

    @admin.display(description="progress", ordering="progress")
    def progress_pct(self, obj: TrainingRun) -> str:
        return f"{obj.progress * 100:.0f}%"


@admin.register(TrainingRunEvent)
class TrainingRunEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "run", "level", "message")
    list_filter = ("level",)
    search_fields = ("message",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_run_event_list()


@admin.register(TrainingMetric)
class TrainingMetricAdmin(ReadOnlyAdmin):
    list_display = ("run", "name", "step", "value", "created_at")
    list_filter = ("name",)
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.training_metric_list()


@admin.register(ModelEvaluation)
class ModelEvaluationAdmin(BaseAdmin):
    list_display = ("model_version", "status", "dataset", "requested_by", "finished_at", "created_at")
    list_filter = ("status",)
    search_fields = ("model_version__model_name",)
    autocomplete_fields = ("model_version", "dataset")
    readonly_fields = ("status", "metrics", "gallery", "error_message", "started_at", "finished_at",
                       "heartbeat_at", "requested_by")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_evaluation_list()
