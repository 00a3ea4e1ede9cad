from django.apps import apps
from django.core.management.base import BaseCommand

from core.roles import sync_roles


class Command(BaseCommand):
    help = "Create the Curators, ML staff and API consumers groups with their permissions."

    def handle(self, *args, **options) -> None:
        sync_roles(apps)
        self.stdout.write(self.style.SUCCESS("Roles synced."))
