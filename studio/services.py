"""The playground's writes: generation requests through the API's own service (generation_create), each
logged in the request log as the API logs its calls; ratings and promotions are feedback's services."""

from __future__ import annotations

import io
import json
import secrets
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from generation.api_log import api_request_create, scrub
from generation.models import DesignOutput
from generation.services.requests import generation_create
from training.models import SLMModel
from training.selectors import model_version_resolve


def playground_generate(
    *,
    user: Any,
    endpoint: str,
    models: list[str],
    text: str = "",
    template_version_id: Any = None,
    variables: dict[str, str] | None = None,
    style_guide_id: Any = None,
    image: bytes | None = None,
    count: int = 1,
    seed: int | None = None,
    temperature: float | None = None,
) -> list[DesignOutput]:
    """One generation request per model, with the same seed (so the two sides compare), all or none; each
    is a request-log row (endpoint, user, IP, payload, prompt) like an API call. A refused request is
    logged with its error too, and raised."""
    seed = seed if seed is not None else secrets.randbelow(2**31)
    payload = scrub(
        {
            "text": text,
            "template_version": str(template_version_id) if template_version_id else None,
            "variables": variables or {},
            "style_guide": str(style_guide_id) if style_guide_id else None,
            "images": 1 if image else 0,
            "count": count,
            "seed": seed,
            "temperature": temperature,
        }
    )
    started, t0 = timezone.now(), time.monotonic()
    try:
        for ref in models:  # every model is checked before anything is stored
            try:
                model_version_resolve(ref=ref)
            except SLMModel.DoesNotExist:
                raise ValidationError({"model": f"No model version or alias named {ref!r}."})
        with transaction.atomic():
            outputs = [
                generation_create(
                    user=user,
                    text=text,
                    template_version_id=template_version_id,
                    variables=variables or {},
                    style_guide_id=style_guide_id,
                    images=[io.BytesIO(image)] if image else [],
                    count=count,
                    model=ref,
                    seed=seed,
                    temperature=temperature,
                )
                for ref in models
            ]
    except ValidationError as exc:
        api_request_create(
            user=user,
            endpoint=endpoint,
            method="POST",
            request_time=started,
            duration_ms=round((time.monotonic() - t0) * 1000),
            status_code=400,
            payload={"body": {**payload, "models": models}},
            error_detail=json.dumps({"code": "validation_error", "fields": _fields(exc)})[:4000],
        )
        raise
    duration = round((time.monotonic() - t0) * 1000)
    for ref, output in zip(models, outputs, strict=True):
        api_request_create(
            user=user,
            endpoint=endpoint,
            method="POST",
            request_time=started,
            duration_ms=duration,
            status_code=202,
            payload={"body": {**payload, "model": ref}},
            prompt_id=output.prompt_id,
        )
    return outputs


def _fields(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}
