from __future__ import annotations

from typing import Any

from django import forms

from catalog.models import StyleGuide
from core.svg import SvgError, clean_svg
from slm.learnable import PASSES_TO_LEARN
from training.models import ImportBatch, ReviewPolicy, SLMModel, TrainingExample
from training.params import ARCHITECTURES, FINETUNE, SELECT_BY, TrainingParams
from training.readers import UPLOAD_SUFFIXES, file_format

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
    near_duplicates = forms.ChoiceField(
        choices=ImportBatch.NearDuplicates.choices,
        initial=ImportBatch.NearDuplicates.KEEP,
        required=False,  # left out (a script's post): kept, as before near-duplicates were checked
        help_text="Rows whose rendering looks like an existing example's (search by picture).",
    )
    default_status = forms.ChoiceField(
        choices=TrainingExample.Status.choices, initial=TrainingExample.Status.DRAFT
    )
    style_guide = forms.ModelChoiceField(queryset=StyleGuide.objects.all(), required=False)
    review_policy = forms.ModelChoiceField(
        queryset=ReviewPolicy.objects.all(),
        required=False,
        label="Review queue",
        help_text="The queue (review policy) the new examples join; empty: one review decides.",
    )

    def clean_near_duplicates(self) -> str:
        return self.cleaned_data.get("near_duplicates") or ImportBatch.NearDuplicates.KEEP

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if file_format(upload.name) is None:
            raise forms.ValidationError(f"Upload {UPLOAD_SUFFIXES}.")
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


OVERRIDE_HELP = (
    "Production never moves to a version whose verdict is “not learned” (see its evaluation). ML staff "
    "may move it anyway by giving the reason here; it is kept in the alias's history."
)


def _param_field(f: Any) -> forms.Field:
    """A form field for one TrainingParams field: its default, range and help, nothing restated."""
    lo, hi = f.metadata["range"]
    if f.name == "arch":
        return forms.ChoiceField(choices=ARCHITECTURES, initial=f.default)
    if f.name == "select_by":
        return forms.ChoiceField(choices=SELECT_BY, initial=f.default, help_text=f.metadata["help"])
    if f.name == "finetune":
        return forms.ChoiceField(choices=FINETUNE, initial=f.default, help_text=f.metadata["help"])
    if isinstance(f.default, str):
        return forms.CharField(initial=f.default, required=False, help_text=f.metadata["help"])
    kind = forms.FloatField if isinstance(f.default, float) else forms.IntegerField
    return kind(initial=f.default, min_value=lo, max_value=hi, help_text=f.metadata["help"])


class TrainForm(forms.Form):
    """A run's hyperparameters (fields made from training.params.TrainingParams), an optional base model."""

    model_name = forms.SlugField(initial="atelier-slm", max_length=120)
    base_model = forms.ModelChoiceField(
        queryset=SLMModel.objects.all(),
        required=False,
        help_text="Fine-tune from this version or an imported base model (its tokenizer is kept).",
    )
    promote_to = forms.SlugField(
        required=False,
        max_length=60,
        help_text="Point this alias (e.g. staging, production) at the result when done.",
    )
    promote_override_reason = forms.CharField(
        required=False, max_length=500, label="Reason to override the verdict", help_text=OVERRIDE_HELP
    )
    train_anyway = forms.BooleanField(
        required=False,
        label="Train even if the budget looks too short",
        help_text="The budget is checked against an estimate of what learning this snapshot takes (its "
        f"size × tokens per example × {PASSES_TO_LEARN} passes ÷ measured tokens/s); tick to train with less "
        "anyway.",
    )
    PARAM_FIELDS = tuple(f.name for f in TrainingParams.fields() if f.metadata["form"])

    def __init__(self, *args: Any, recipe: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """`recipe`: the values derived from the snapshot (slm.recipe), shown as the initial ones."""
        super().__init__(*args, **kwargs)
        for f in TrainingParams.fields():
            if f.metadata["form"]:
                self.fields[f.name] = _param_field(f)
                if recipe and f.name in recipe:
                    self.fields[f.name].initial = recipe[f.name]

    def params(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.PARAM_FIELDS}


class BaseModelImportForm(forms.Form):
    file = forms.FileField(
        help_text="A ZIP of a Hugging Face-format causal LM folder: config.json, model.safetensors (or an "
        "index and its shards) and its tokenizer (tokenizer.json). Larger models: "
        "`python manage.py import_base_model PATH --name NAME` (a folder, a ZIP or storage:PREFIX)."
    )
    name = forms.SlugField(max_length=120, help_text="Model name; versions count up per name.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".zip"):
            raise forms.ValidationError("Upload a .zip of the model folder.")
        return upload


class AliasForm(forms.Form):
    alias = forms.SlugField(max_length=60, initial="staging", help_text="production, staging, or any name.")
    note = forms.CharField(required=False, max_length=500)
    override_reason = forms.CharField(
        required=False, max_length=500, label="Reason to override the verdict", help_text=OVERRIDE_HELP
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


class ReviewQueueForm(forms.Form):
    review_policy = forms.ModelChoiceField(
        queryset=ReviewPolicy.objects.all(),
        required=False,
        label="Review queue",
        help_text="Empty: out of every queue, one review decides. Statuses follow the new policy.",
    )
