"""External model versions: registered against an OpenAI-compatible endpoint with an encrypted API key and a
prompt recipe, then generated from and evaluated like our own (slm.external.ExternalGenerator).

The key is encrypted with Fernet (EXTERNAL_KEYS_FERNET, newest key first, so keys can be rotated) before
it is stored, decrypted only to build the client, and never shown, logged or audited.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from catalog.models import StyleGuide
from slm.external import DEFAULT_SYSTEM
from training.external_keys import api_key_encrypt
from training.models import Dataset, DatasetItem, SLMModel
from training.models.registry import ExternalService
from training.selectors import dataset_examples

MAX_SHOT_SVG_CHARS = 4000  # a few-shot example's SVG; longer ones would crowd the context


def prompt_recipe_build(
    *, dataset: Dataset | None, style_guide: StyleGuide | None, shots: int
) -> dict[str, Any]:
    """The system prompt (with the style guide's rules) and `shots` few-shot examples from the snapshot's
    training split (short ones first, so they fit any context)."""
    system = DEFAULT_SYSTEM
    if style_guide is not None:
        rules = json.dumps(style_guide.style_rules or {}, sort_keys=True)
        system += f"\n\nFollow the style guide {style_guide.guide_name!r}: {style_guide.description}\nRules: {rules}"
    examples = []
    if dataset is not None and shots > 0:
        train = dataset_examples(dataset=dataset, split=DatasetItem.Split.TRAIN)
        fitting = sorted((e for e in train if len(e.svg) <= MAX_SHOT_SVG_CHARS), key=lambda e: len(e.svg))
        examples = [{"prompt": e.prompt, "svg": e.svg} for e in fitting[:shots]]
    return {"system": system, "examples": examples}


@transaction.atomic
def external_model_register(
    *,
    model_name: str,
    endpoint_url: str,
    external_model: str,
    api_key: str = "",
    service: str = ExternalService.SELF_HOSTED,
    dataset: Dataset | None = None,
    style_guide: StyleGuide | None = None,
    shots: int = 3,
    notes: str = "",
) -> SLMModel:
    """A new version of `model_name` served by an endpoint: its next version number, the key encrypted."""
    if not service:
        raise ValidationError({"external_service": "Choose the service that serves this version."})
    latest = SLMModel.objects.filter(model_name=model_name).aggregate(v=Max("version"))["v"] or 0
    version = SLMModel(
        model_name=model_name,
        version=latest + 1,
        architecture="external",
        training_strategy=SLMModel.Strategy.FINE_TUNE,
        dataset=dataset,
        external_service=service,
        endpoint_url=endpoint_url.rstrip("/"),
        external_model=external_model,
        api_key_encrypted=api_key_encrypt(api_key),
        prompt_recipe=prompt_recipe_build(dataset=dataset, style_guide=style_guide, shots=shots),
        notes=notes,
    )
    version.full_clean()
    version.save()
    return version
