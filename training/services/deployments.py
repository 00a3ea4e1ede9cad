"""Deployment health (seed 004), per alias: where it serves from and whether that answers. Every worker
checks now and then (core.jobs.periodic, DEPLOYMENT_CHECK_INTERVAL_S), and `check_deployments` on demand.

An external version's endpoint is asked for its model list (GET …/models) through the `openai` client,
with the version's key and a short timeout; a local version's artifacts must be in storage. The latency
and the last error are kept; an error's text is the exception's class and message (never the key,
which the client holds only in a header)."""

from __future__ import annotations

import logging
import time

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from training.artifacts import MANIFEST
from training.external_keys import api_key_decrypt
from training.models import Deployment, ModelAlias, SLMModel

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 5.0


def _probe(model: SLMModel) -> None:
    """Raise when the version cannot be served now."""
    if model.is_external:
        import openai

        with openai.OpenAI(
            base_url=model.endpoint_url,
            api_key=api_key_decrypt(model.api_key_encrypted) or "none",
            timeout=CHECK_TIMEOUT_S,
            max_retries=0,
        ) as client:
            names = [m.id for m in client.models.list()]
        if model.external_model not in names:
            raise LookupError(f"the endpoint does not list the model {model.external_model!r}")
    elif not model.storage_path or not default_storage.exists(f"{model.storage_path}/{MANIFEST}"):
        raise LookupError("the version's artifacts are not in storage")


def deployment_check(*, alias: ModelAlias) -> Deployment:
    """Check one alias's deployment now and store what was found."""
    model = alias.model_version
    t0 = time.perf_counter()
    error = ""
    try:
        _probe(model)
    except Exception as exc:  # any failure is the deployment's state, not ours
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("deployment %s (%s) is failing: %s", alias.name, model, error)
    latency = round((time.perf_counter() - t0) * 1000)
    now = timezone.now()
    with transaction.atomic():
        deployment, _ = Deployment.objects.select_for_update().get_or_create(alias=alias)
        deployment.endpoint_url = model.endpoint_url if model.is_external else ""
        deployment.status = Deployment.Status.FAILING if error else Deployment.Status.HEALTHY
        deployment.checked_at = now
        deployment.latency_ms = latency
        if error:
            deployment.last_error, deployment.last_error_at = error, now
        deployment.full_clean()
        deployment.save()
    return deployment


def deployment_check_all() -> list[Deployment]:
    return [deployment_check(alias=a) for a in ModelAlias.objects.select_related("model_version")]
