"""`make run`: the web server, plus an in-process Dramatiq worker when no Redis is configured."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from core.embedded import start_embedded_worker


class Command(BaseCommand):
    help = "Serve the admin and API; with the embedded broker, run a worker in this process too."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-demo-model", action="store_true", help="Do not train the demo model.")

    def handle(self, *args: Any, addrport: str, no_demo_model: bool, **options: Any) -> None:
        if settings.EMBEDDED_BROKER:
            start_embedded_worker()
            self.stdout.write(
                f"Embedded worker running ({settings.EMBEDDED_WORKER_THREADS} threads, "
                f"{settings.GENERATION_WORKER_THREADS} for generation)."
            )
        else:
            self.stdout.write("A broker is configured: start workers with `python manage.py rundramatiq`.")
        if not no_demo_model and os.environ.get("ATELIER_DEMO_MODEL", "1") != "0":
            self._queue_demo_model()
        # No autoreload: the reloader would fork a second process with a second worker.
        call_command("runserver", addrport, use_reloader=False)

    def _queue_demo_model(self) -> None:
        """Synthetic corpus → snapshot → training → production, in the background, unless one exists."""
        from django.contrib.auth import get_user_model

        from training.services.demo import demo_needed
        from training.tasks import demo_pipeline

        owner = get_user_model().objects.filter(is_superuser=True).order_by("date_joined").first()
        if owner is None or not demo_needed():
            return
        size = int(os.environ.get("ATELIER_DEMO_CORPUS", "40000"))
        budget = int(os.environ.get("ATELIER_DEMO_BUDGET_SECONDS", "300"))
        demo_pipeline.send(size, budget, str(owner.pk))
        self.stdout.write(
            f"Demo model queued: {size} synthetic designs, {budget} s of training, then production. "
            "Watch it under Training runs in the admin."
        )
