"""`make run`: the web server, plus an in-process Dramatiq worker when no Redis is configured."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from core.embedded import start_embedded_worker


class Command(BaseCommand):
    help = "Serve the admin and API; with the embedded broker, run a worker in this process too."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        if settings.EMBEDDED_BROKER:
            start_embedded_worker()
            self.stdout.write(f"Embedded worker running ({settings.EMBEDDED_WORKER_THREADS} threads).")
        else:
            self.stdout.write("REDIS_URL is set: start workers with `python manage.py rundramatiq`.")
        # No autoreload: the reloader would fork a second process with a second worker.
        call_command("runserver", addrport, use_reloader=False)
