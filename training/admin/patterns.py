"""Design patterns expand into training examples: the training app adds that action to the catalog's
pattern admin (catalog never imports training)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from catalog.admin import DesignPatternAdmin
from catalog.models import DesignPattern
from core.admin_pages import form_page
from training.forms import PatternExpandForm
from training.services.patterns import design_pattern_expand

admin.site.unregister(DesignPattern)


@admin.register(DesignPattern)
class ExpandableDesignPatternAdmin(DesignPatternAdmin):
    actions = ["expand", "restore_selected"]

    @admin.action(description="Expand into training examples")
    def expand(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not request.user.has_perm("training.add_trainingexample"):
            self.message_user(request, "You may not create training examples.", messages.ERROR)
            return None
        if queryset.count() != 1:
            self.message_user(request, "Expand one pattern at a time.", messages.WARNING)
            return None
        pattern = queryset.get()
        slots = (pattern.pattern_config or {}).get("slots") or {}
        if not slots:
            self.message_user(request, f"{pattern} has no slots to expand.", messages.ERROR)
            return None
        form = PatternExpandForm(request.POST if request.POST.get("confirm") else None, slots=slots)
        if form.is_bound and form.is_valid():
            try:
                result = design_pattern_expand(
                    pattern=pattern,
                    values=form.chosen(slots),
                    status=form.cleaned_data["status"],
                    created_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                level = messages.SUCCESS if not result["invalid"] else messages.WARNING
                self.message_user(
                    request,
                    f"{pattern}: {result['created']} example(s) created, {result['duplicates']} already present, "
                    f"{len(result['invalid'])} invalid."
                    + (f" First: {result['invalid'][0]}" if result["invalid"] else ""),
                    level,
                )
                return None
        return form_page(
            request,
            self,
            title=f"Expand {pattern}",
            form=form,
            action="expand",
            selected=[str(pattern.pk)],
            submit_label="Create examples",
            intro="Every combination of the chosen values becomes one training example linked to this pattern.",
        )
