"""Dramatiq actors for generation: ids in, one claim (core.jobs), a service call."""

from __future__ import annotations

from core.jobs.actor import job_actor
from generation.models import DesignOutput
from generation.services.jobs import prompt_status_sync
from generation.services.pipeline import generation_execute
from generation.services.renders import output_pngs_render


@job_actor(
    DesignOutput,
    queue_name="generation",
    time_limit=5 * 60 * 1000,
    min_backoff=1000,
    select_related=("prompt", "model_version"),
    on_state=prompt_status_sync,
    if_completed=lambda output_id: output_pngs_render(output_id=output_id),  # PNGs a dead worker left
)
def generate(output: DesignOutput) -> None:
    generation_execute(output=output)
