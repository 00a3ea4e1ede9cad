from __future__ import annotations

from pathlib import Path

from django import forms

from catalog.models import StyleGuide
from training.models import ImportBatch, TrainingExample

UPLOAD_MAX_BYTES = 512 * 1024 * 1024


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        help_text="JSONL (one example per line: prompt, svg, tags, category, source, external_id, "
        "metadata), CSV with the same columns, or a ZIP of SVG files (JSON sidecars optional)."
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, help_text="Check and report only; store nothing."
    )
    mode = forms.ChoiceField(choices=ImportBatch.Mode.choices, initial=ImportBatch.Mode.ALL_OR_NOTHING)
    default_status = forms.ChoiceField(
        choices=TrainingExample.Status.choices, initial=TrainingExample.Status.DRAFT
    )
    style_guide = forms.ModelChoiceField(queryset=StyleGuide.objects.all(), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        suffix = Path(upload.name).suffix.lower()
        if suffix not in (".jsonl", ".ndjson", ".csv", ".zip"):
            raise forms.ValidationError("Upload a .jsonl, .csv or .zip file.")
        if upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {UPLOAD_MAX_BYTES // (1024 * 1024)} MB.")
        return upload


class SnapshotForm(forms.Form):
    name = forms.SlugField(
        max_length=120, help_text="Snapshots with the same name get the next version number."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    seed = forms.IntegerField(initial=0, min_value=0, help_text="Fixes the train/validation/test split.")
    validation = forms.FloatField(initial=0.05, min_value=0, max_value=0.5)
    test = forms.FloatField(initial=0.05, min_value=0, max_value=0.5)
    approved_only = forms.BooleanField(
        required=False, initial=True, help_text="Leave out drafts and rejected examples."
    )

    def ratios(self) -> dict[str, float]:
        val, test = self.cleaned_data["validation"], self.cleaned_data["test"]
        return {"train": round(1 - val - test, 6), "validation": val, "test": test}


class PatternExpandForm(forms.Form):
    status = forms.ChoiceField(choices=TrainingExample.Status.choices, initial=TrainingExample.Status.DRAFT)

    def __init__(self, *args, slots: dict[str, list], **kwargs):
        super().__init__(*args, **kwargs)
        self.slot_names = sorted(slots)
        for name in self.slot_names:
            choices = [(str(v), str(v)) for v in slots[name]]
            self.fields[f"slot_{name}"] = forms.MultipleChoiceField(
                choices=choices,
                initial=[c[0] for c in choices],
                widget=forms.CheckboxSelectMultiple,
                label=f"Values of {name}",
            )

    def chosen(self, slots: dict[str, list]) -> dict[str, list]:
        out = {}
        for name in self.slot_names:
            picked = set(self.cleaned_data[f"slot_{name}"])
            out[name] = [v for v in slots[name] if str(v) in picked]
        return out


class TrainForm(forms.Form):
    """Hyperparameters with good defaults (training.params.TrainingParams), an optional base model."""

    model_name = forms.SlugField(initial="atelier-slm", max_length=120)
    base_model = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Fine-tune from this version (its tokenizer is kept)."
    )
    promote_to = forms.SlugField(
        required=False,
        max_length=60,
        help_text="Point this alias (e.g. staging, production) at the result when done.",
    )
    budget_seconds = forms.IntegerField(initial=300, min_value=0, help_text="Wall-clock training time.")
    max_steps = forms.IntegerField(initial=0, min_value=0, help_text="0: bounded by the time budget only.")
    batch_size = forms.IntegerField(initial=32, min_value=1, max_value=1024)
    learning_rate = forms.FloatField(initial=3e-3, min_value=1e-6, max_value=1.0)
    warmup_steps = forms.IntegerField(initial=30, min_value=0)
    seed = forms.IntegerField(initial=0, min_value=0)
    checkpoint_every = forms.IntegerField(initial=250, min_value=1)
    arch = forms.ChoiceField(choices=[("gpt2", "GPT-2"), ("llama", "Llama")], initial="gpt2")
    n_layer = forms.IntegerField(initial=4, min_value=1, max_value=48)
    n_embd = forms.IntegerField(initial=128, min_value=16, max_value=4096)
    n_head = forms.IntegerField(initial=4, min_value=1, max_value=64)

    PARAM_FIELDS = (
        "budget_seconds",
        "max_steps",
        "batch_size",
        "learning_rate",
        "warmup_steps",
        "seed",
        "checkpoint_every",
        "arch",
        "n_layer",
        "n_embd",
        "n_head",
    )

    def __init__(self, *args, **kwargs):
        from training.models import SLMModel

        super().__init__(*args, **kwargs)
        self.fields["base_model"].queryset = SLMModel.objects.all()

    def params(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.PARAM_FIELDS}


class AliasForm(forms.Form):
    alias = forms.SlugField(max_length=60, initial="staging", help_text="production, staging, or any name.")
    note = forms.CharField(required=False, max_length=500)


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
        from training.models import Dataset

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


class TrainingExampleForm(forms.ModelForm):
    """Hand-made examples go through core.svg like imported ones: sanitised, normalised, hashed, deduplicated."""

    class Meta:
        model = TrainingExample
        fields = (
            "prompt",
            "svg_content",
            "svg_file",
            "source_type",
            "source_url",
            "external_id",
            "data_category",
            "tags",
            "collected_at",
            "metadata",
            "style_guide",
            "design_pattern",
            "status",
            "quality_score",
            "import_batch",
        )

    def clean_svg_content(self) -> str:
        from core.svg import SvgError, clean_svg

        try:
            clean = clean_svg(self.cleaned_data["svg_content"])
        except SvgError as exc:
            raise forms.ValidationError(str(exc)) from exc
        clash = (
            TrainingExample.objects.filter(content_hash=clean.content_hash)
            .exclude(pk=self.instance.pk)
            .first()
        )
        if clash is not None:
            raise forms.ValidationError(f"The same design is already an example: “{clash.prompt[:60]}”.")
        self.instance.content_hash = clean.content_hash
        self.removals = clean.removals
        return clean.svg
