"""Search on the examples' admin: words through the word search (ranked), pictures through the vector
index (upload a picture or pick an example), and the "similar" panel on every example's page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from core.svg import SvgError
from core.svg.fingerprint import fingerprint_image
from training import selectors
from training.selectors_search import MAX_QUERY_CHARS, RANK_ORDER, training_example_search
from training.services.fingerprints import fingerprint_or_none
from training.similarity import neighbours_of_example, neighbours_of_vector, similar_panel_context

PANEL_SIZE = 6
PICTURE_RESULTS = 24
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class PictureSearchForm(forms.Form):
    picture = forms.FileField(required=False, help_text="A PNG, JPEG or SVG file.")
    example = forms.UUIDField(required=False, help_text="Or the id of an example to start from.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("picture") and not data.get("example"):
            raise ValidationError("Upload a picture or give an example's id.")
        upload = data.get("picture")
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            self.add_error("picture", "The file is over 5 MB.")
        return data


def _upload_vector(upload: Any):
    raw = upload.read()
    if upload.name.lower().endswith(".svg"):
        fp = fingerprint_or_none(raw.decode("utf-8", "replace"))
    else:
        fp = fingerprint_image(raw)
    if fp is None:
        raise SvgError("The picture draws nothing to compare.")
    return fp.vector


class RankedChangeList(ChangeList):
    """With a word search and no column chosen to sort by: best match first (the search's annotations)."""

    def get_ordering(self, request: HttpRequest, queryset: QuerySet) -> list:
        ranked = "exact_name" in queryset.query.annotations  # a search that ran (not a refused query)
        if ranked and ORDER_VAR not in self.params:
            return [*RANK_ORDER, "-pk"]
        return super().get_ordering(request, queryset)


class ExampleSearchAdminMixin:
    """Mixed into TrainingExampleAdmin."""

    search_help_text = (
        f"Words in the name, tags, prompt or category (all of them, best match first; at most "
        f"{MAX_QUERY_CHARS} characters). To search by picture, use “Search by picture”."
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        if request.path.endswith("/autocomplete/"):
            queryset = queryset.filter(
                deleted_at__isnull=True
            )  # as SoftDeleteAdmin's: no deleted rows offered
        if not search_term.strip():
            return queryset, False
        try:
            return training_example_search(query=search_term, qs=queryset), False
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)  # type: ignore[attr-defined]
            return queryset.none(), False

    def get_changelist(self, request: HttpRequest, **kwargs: Any):
        return RankedChangeList

    def search_urls(self) -> list:
        site = self.admin_site  # type: ignore[attr-defined]
        return [
            path(
                "search-by-picture/",
                site.admin_view(self.picture_search_view),
                name="training_trainingexample_picture_search",
            )
        ]

    def picture_search_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = PictureSearchForm(request.POST or None, request.FILES or None)
        if request.method == "GET" and request.GET.get("example"):
            form = PictureSearchForm({"example": request.GET["example"]})
        context: dict[str, Any] = {}
        if form.is_bound and form.is_valid():
            context = self._picture_results(form)
        return TemplateResponse(
            request,
            "admin/training/trainingexample/picture_search.html",
            {
                **self.admin_site.each_context(request),  # type: ignore[attr-defined]
                "opts": self.model._meta,  # type: ignore[attr-defined]
                "title": "Search examples by picture",
                "form": form,
                **context,
            },
        )

    def _picture_results(self, form: PictureSearchForm) -> dict[str, Any]:
        example_id = form.cleaned_data.get("example")
        if example_id:
            example = selectors.training_example_list().filter(pk=example_id).first()
            if example is None:
                form.add_error("example", "No such example.")
                return {}
            return similar_panel_context(lambda: neighbours_of_example(example, k=PICTURE_RESULTS))
        try:
            vector = _upload_vector(form.cleaned_data["picture"])
        except SvgError as exc:
            form.add_error("picture", str(exc))
            return {}
        return similar_panel_context(lambda: neighbours_of_vector(vector, k=PICTURE_RESULTS))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra = dict(extra_context or {})
        example = selectors.training_example_list(include_deleted=True).filter(pk=object_id).first()
        if example is not None:
            extra.update(similar_panel_context(lambda: neighbours_of_example(example, k=PANEL_SIZE)))
            extra["similar_for"] = example.pk
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]
