"""Dramatiq actors for generation: ids in, one claim (core.jobs), a service call."""

from __future__ import annotations

from core.jobs.actor import job_actor
from generation.models import DesignOutput
from generation.services.fingerprints import output_fingerprints_compute
from generation.services.jobs import prompt_status_sync
from generation.services.pipeline import generation_execute
from generation.services.renders import output_pngs_render


def _completed_leftovers(output_id: object) -> None:
    """The PNGs and fingerprints a worker that died after completing the request did not store."""
    output_pngs_render(output_id=output_id)
    output_fingerprints_compute(output_id=output_id)


@job_actor(
    DesignOutput,
    queue_name="generation",
    time_limit=5 * 60 * 1000,
    min_backoff=1000,
    select_related=("prompt", "model_version"),
    on_state=prompt_status_sync,
    if_completed=lambda output_id: _completed_leftovers(output_id),
)
def generate(output: DesignOutput) -> None:
    generation_execute(output=output)
