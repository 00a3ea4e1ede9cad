"""Admin building blocks shared by every app, plus users and the audit trail."""

from __future__ import annotations

from typing import Any

from auditlog.admin import LogEntryAdmin as BaseLogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django_dramatiq.models import Task

from core.admin_json import ReadableJSONWidget
from core.admin_paging import LargeTableAdminMixin
from core.models import SoftDeleteModel, User
from core.services import restore_many, soft_delete

admin.site.site_header = "Atelier"
admin.site.site_title = "Atelier admin"
admin.site.index_title = "Design data, models and generations"

# We keep job state in our own rows; django_dramatiq's task table is unused.
admin.site.unregister(Task)


class DeletedFilter(admin.SimpleListFilter):
    """Live rows by default; soft-deleted ones one click away, to restore them."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Live only"), ("yes", "Deleted only"), ("all", "All")]

    def choices(self, changelist: Any):  # type: ignore[override]
        value = self.value() or "no"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or "no"
        if value == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if value == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class BaseAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    """Timestamps and ids are read-only everywhere; no full count query on big tables (core.admin_paging);
    JSON fields are indented with a readable tree (read-only ones too, through templates/admin/includes)."""

    formfield_overrides = {models.JSONField: {"widget": ReadableJSONWidget}}
    list_per_page = 50
    base_readonly = ("id", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        names = {f.name for f in self.model._meta.get_fields()}
        extra = tuple(f for f in self.base_readonly if f in names)
        return tuple(dict.fromkeys((*super().get_readonly_fields(request, obj), *extra)))


class SoftDeleteAdmin(BaseAdmin):
    """Delete hides (soft delete, audited); a restore action brings rows back."""

    base_readonly = ("id", "created_at", "updated_at", "deleted_at")
    actions = ["restore_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The DeletedFilter decides what shows; the admin must be able to reach deleted rows.
        return (
            self.selector_queryset(request)
            if hasattr(self, "selector_queryset")
            else super().get_queryset(request)
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        # Autocomplete widgets elsewhere must not offer soft-deleted rows.
        if request.path.endswith("/autocomplete/"):
            queryset = queryset.filter(deleted_at__isnull=True)
        return super().get_search_results(request, queryset, search_term)

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [*super().get_list_filter(request), DeletedFilter]

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set, list]:
        # A soft delete cascades nothing: only the selected rows are hidden, related rows stay.
        objs = list(objs)
        return [str(o) for o in objs], {str(self.model._meta.verbose_name_plural): len(objs)}, set(), []

    def delete_model(self, request: HttpRequest, obj: SoftDeleteModel) -> None:
        soft_delete(instance=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            soft_delete(instance=obj)

    @admin.action(description="Restore selected (undo delete)")
    def restore_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        restored, errors = restore_many(instances=list(queryset.filter(deleted_at__isnull=False)))
        if restored:
            self.message_user(request, f"Restored {restored} row(s).", messages.SUCCESS)
        for err in errors:
            self.message_user(request, f"Could not restore {err}", messages.ERROR)
        if not restored and not errors:
            self.message_user(
                request, "Nothing to restore: none of the selected rows is deleted.", messages.WARNING
            )


class ReadOnlyAdmin(BaseAdmin):
    """Rows written by jobs (events, metrics, logs): browsable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(LargeTableAdminMixin, DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "last_login", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("username", "email", "first_name", "last_name")
    readonly_fields = ("last_login", "date_joined")
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditLogAdmin(LargeTableAdminMixin, BaseLogEntryAdmin):
    """The audit trail: read-only, never deleted from the admin."""

    list_display = ["created", "resource_url", "action", "msg_short", "user_url", "remote_addr"]
    readonly_fields = [*BaseLogEntryAdmin.readonly_fields, "remote_addr", "user_agent"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "resource_url", "cid", "remote_addr", "user_agent"]}),
        ("Changes", {"fields": ["action", "msg"]}),
    ]

    @admin.display(description="user agent")
    def user_agent(self, obj: LogEntry) -> str:
        return (obj.additional_data or {}).get("user_agent", "")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
