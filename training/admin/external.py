"""Registering an external model version from the admin (ML staff): its endpoint, model name, API key
(a password field: written once, encrypted, never shown again) and the prompt recipe's sources."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from catalog.models import StyleGuide
from core.admin_pages import form_page
from training.models import Dataset
from training.models.registry import ExternalService
from training.services.external import external_model_register


class ExternalVersionForm(forms.Form):
    model_name = forms.SlugField(max_length=120, help_text="A new version of this name is registered.")
    service = forms.ChoiceField(choices=[c for c in ExternalService.choices if c[0]])
    endpoint_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="OpenAI-compatible base URL, e.g. https://…/v1"
    )
    external_model = forms.CharField(max_length=200, help_text="The endpoint's model name.")
    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Stored encrypted."
    )
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.filter(status=Dataset.Status.READY),
        required=False,
        help_text="Few-shot examples come from its training split; evaluations use its test split.",
    )
    style_guide = forms.ModelChoiceField(queryset=StyleGuide.objects.all(), required=False)
    shots = forms.IntegerField(min_value=0, max_value=16, initial=3)


def external_register_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("training.change_slmmodel"):
        raise PermissionDenied
    form = ExternalVersionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data: dict[str, Any] = form.cleaned_data
        try:
            version = external_model_register(
                model_name=data["model_name"],
                endpoint_url=data["endpoint_url"],
                external_model=data["external_model"],
                api_key=data["api_key"],
                service=data["service"],
                dataset=data["dataset"],
                style_guide=data["style_guide"],
                shots=data["shots"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except ImproperlyConfigured as exc:
            form.add_error("api_key", str(exc))
        else:
            model_admin.message_user(request, f"{version} registered against its endpoint.", messages.SUCCESS)
            return redirect(reverse("admin:training_slmmodel_change", args=[version.pk]))
    return form_page(
        request,
        model_admin,
        title="Register an external model version",
        form=form,
        intro="A version served by an OpenAI-compatible endpoint (OpenAI, vLLM, TGI, llama.cpp, another "
        "Atelier). Generation and evaluation call it through the openai client; its key is encrypted.",
        submit_label="Register",
    )
