"""Model aliases in the admin: where each points, the history of every move (with any reason given to
override production's gate), and rollback."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import BaseAdmin, ReadOnlyAdmin
from training import selectors
from training.models import Deployment, ModelAlias, ModelAliasEvent
from training.services.registry import model_alias_rollback


class ModelAliasEventInline(admin.TabularInline):
    model = ModelAliasEvent
    fk_name = "alias"
    extra = 0
    fields = ("created_at", "from_version", "to_version", "moved_by", "note", "override_reason")
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(ModelAlias)
class ModelAliasAdmin(BaseAdmin):
    list_display = (
        "name",
        "model_version",
        "updated_by",
        "updated_at",
        "endpoint",
        "health",
        "latency",
        "last_error",
    )
    search_fields = ("name",)
    autocomplete_fields = ("model_version",)
    readonly_fields = ("name", "model_version", "updated_by")
    inlines = [ModelAliasEventInline]
    actions = ["rollback"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_alias_list()

    # The deployment's health, from the periodic check (training.services.deployments).
    @staticmethod
    def _deployment(obj: ModelAlias) -> Deployment | None:
        return getattr(obj, "deployment", None)

    @admin.display(description="endpoint")
    def endpoint(self, obj: ModelAlias) -> str:
        d = self._deployment(obj)
        return (d.endpoint_url or "in-process") if d else "-"

    @admin.display(description="health")
    def health(self, obj: ModelAlias) -> str:
        d = self._deployment(obj)
        if d is None or d.checked_at is None:
            return "not checked yet"
        return f"{d.get_status_display()} (checked {naturaltime(d.checked_at)})"

    @admin.display(description="latency")
    def latency(self, obj: ModelAlias) -> str:
        d = self._deployment(obj)
        return f"{d.latency_ms} ms" if d and d.latency_ms is not None else "-"

    @admin.display(description="last error")
    def last_error(self, obj: ModelAlias) -> str:
        d = self._deployment(obj)
        return f"{d.last_error} ({naturaltime(d.last_error_at)})" if d and d.last_error else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # aliases move through the model versions' action, which keeps the history

    def has_change_permission(self, request: HttpRequest, obj: ModelAlias | None = None) -> bool:
        return False

    def has_rollback_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("training.change_modelalias")  # the service checks production too

    @admin.action(description="Roll back to the previous version", permissions=["rollback"])
    def rollback(self, request: HttpRequest, queryset: QuerySet) -> None:
        for alias in queryset:
            try:
                moved = model_alias_rollback(alias=alias, moved_by=request.user)
                self.message_user(
                    request, f"{moved.name} rolled back to {moved.model_version}.", messages.SUCCESS
                )
            except (ValidationError, PermissionDenied) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{alias.name}: {text}", messages.ERROR)


@admin.register(ModelAliasEvent)
class ModelAliasEventAdmin(ReadOnlyAdmin):
    list_display = (
        "alias",
        "from_version",
        "to_version",
        "moved_by",
        "created_at",
        "note",
        "override_reason",
    )
    list_filter = ("alias__name",)
    search_fields = ("alias__name", "note", "override_reason")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.model_alias_event_list()
