from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from training.services.base_models import base_model_import_create, base_model_import_run


class Command(BaseCommand):
    help = (
        "Register a Hugging Face-format causal LM folder (config, safetensors weights, its tokenizer) as a "
        "model version with training strategy `pretrained`, checked first. PATH: a folder, a ZIP of one, "
        "or storage:PREFIX (a folder in the configured storage, e.g. S3). Runs the import job to its end "
        "in this process; custom code is never run, and nothing is asked on the terminal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--name", required=True, help="Model name (a slug); versions count up per name.")

    def handle(self, *args: Any, path: str, name: str, **options: Any) -> None:
        try:
            job = base_model_import_create(source=path, name=name, enqueue=False)
        except ValidationError as exc:
            reasons = "; ".join(m for msgs in exc.message_dict.values() for m in msgs)
            raise CommandError(f"Not imported: {reasons}") from None
        job = base_model_import_run(import_id=job.pk)
        model = job.result_model
        if job.status != "completed" or model is None:
            raise CommandError(f"Not imported: {job.error_message or job.status}")
        self.stdout.write(
            f"Registered {model} ({model.architecture}, {model.parameter_count:,} parameters) "
            f"as {model.pk}, artifacts at {model.storage_path}."
        )
