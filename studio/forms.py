"""The playground's form: what the API takes, as a page (a prompt or a template and its variables, a style
guide, an input image, one or two models, count, seed, temperature)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from catalog.selectors import prompt_template_version_list, style_guide_list
from generation.services.requests import MAX_COUNT, MAX_TEMPERATURE
from studio.selectors import model_choices


class PlaygroundForm(forms.Form):
    text = forms.CharField(
        label="Prompt",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "two small red circles at the top left"}),
    )
    template_version = forms.ModelChoiceField(
        queryset=prompt_template_version_list().none(),
        required=False,
        label="or a template",
        help_text="Its variables below, one name=value a line.",
    )
    variables = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "placeholder": "shape=circle"})
    )
    style_guide = forms.ModelChoiceField(queryset=style_guide_list().none(), required=False)
    image = forms.ImageField(
        required=False, label="Input image", help_text="PNG or JPEG; its palette conditions the design."
    )
    model_a = forms.ChoiceField(label="Model")
    model_b = forms.ChoiceField(label="Side by side with", required=False)
    count = forms.IntegerField(min_value=1, max_value=MAX_COUNT, initial=2)
    seed = forms.IntegerField(
        required=False, min_value=0, help_text="Blank: a random seed, the same for both models."
    )
    temperature = forms.FloatField(
        required=False, min_value=0, max_value=MAX_TEMPERATURE, help_text="Blank: the API's default."
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        models = model_choices()
        self.fields["model_a"].choices = models
        self.fields["model_b"].choices = [("", "(none)"), *models]
        if not self.is_bound and any(value == "production" for value, _ in models):
            self.fields["model_a"].initial = "production"
        self.fields["template_version"].queryset = prompt_template_version_list().filter(
            Q(template__is_public=True) | Q(template__created_by=user), template__deleted_at__isnull=True
        )
        self.fields["style_guide"].queryset = style_guide_list(published_only=True)

    def groups(self) -> list[list[forms.BoundField]]:
        """What is asked, and of which models: the page's two columns."""
        what = ("text", "template_version", "variables", "style_guide", "image")
        return [[self[n] for n in what], [self[n] for n in self.fields if n not in what]]

    def clean_variables(self) -> dict[str, str]:
        values = {}
        for n, line in enumerate((self.cleaned_data.get("variables") or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise ValidationError(f"Line {n}: write name=value.")
            values[name.strip()] = value.strip()
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("template_version"):
            raise ValidationError("Give a prompt or choose a template.")
        if data.get("model_b") and data.get("model_b") == data.get("model_a"):
            self.add_error("model_b", "Choose a different model to compare, or none.")
        return data

    def models(self) -> list[str]:
        return [m for m in (self.cleaned_data["model_a"], self.cleaned_data.get("model_b")) if m]
