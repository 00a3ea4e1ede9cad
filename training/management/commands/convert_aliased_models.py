"""Convert, for CTranslate2, every version an alias points at that was stored without a conversion
(registered before conversions existed): what an alias move does, for the aliases already in place."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from training.models import SLMModel
from training.services.conversions import model_version_convert


class Command(BaseCommand):
    help = (
        "Convert every aliased model version stored without a CTranslate2 conversion (free when it has one)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        versions = SLMModel.objects.filter(aliases__isnull=False).distinct().order_by("model_name", "version")
        failed = 0
        for version in versions:
            reason = model_version_convert(model_version=version)
            failed += reason is not None
            self.stdout.write(f"{version}: {'transformers, ' + reason if reason else 'converted'}")
        self.stdout.write(f"versions={versions.count()} not_converted={failed}")
