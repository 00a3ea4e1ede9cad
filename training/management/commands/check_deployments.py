from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from training.services.deployments import deployment_check_all


class Command(BaseCommand):
    help = "Check every alias's deployment now (workers also do it every DEPLOYMENT_CHECK_INTERVAL_S)."

    def handle(self, *args: Any, **options: Any) -> None:
        for d in deployment_check_all():
            where = d.endpoint_url or "in-process"
            error = f" last error: {d.last_error}" if d.status == d.Status.FAILING else ""
            self.stdout.write(f"{d.alias.name}: {d.status} ({where}, {d.latency_ms} ms){error}")
