"""Forms of the feedback admin."""

from __future__ import annotations

from django import forms

from training.models import Dataset


class ComparisonForm(forms.Form):
    dataset = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Take prompts from this snapshot's test split…"
    )
    count = forms.IntegerField(initial=20, min_value=1, max_value=100, help_text="…this many of them.")
    prompts = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text="…or list prompts, one per line."
    )
    seed = forms.IntegerField(initial=0, min_value=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.filter(status="ready")

    def clean(self):
        data = super().clean()
        if not data.get("dataset") and not (data.get("prompts") or "").strip():
            raise forms.ValidationError("Choose a snapshot or list some prompts.")
        return data

    def prompt_list(self) -> list[str]:
        typed = [line for line in (self.cleaned_data.get("prompts") or "").splitlines() if line.strip()]
        if typed:
            return typed
        dataset = self.cleaned_data["dataset"]
        return list(
            dataset.items.filter(split="test")
            .order_by("content_hash")
            .values_list("prompt", flat=True)[: self.cleaned_data["count"]]
        )
