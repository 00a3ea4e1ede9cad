"""`make run`'s first steps: a demo admin account and a little demo content. Safe to run twice."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from catalog.demo import DEMO_PATTERNS, DEMO_STYLE_GUIDES, DEMO_TEMPLATES
from catalog.models import DesignPattern, PromptTemplate, StyleGuide
from catalog.services import prompt_template_create, style_guide_create
from core.roles import CURATORS, ML_STAFF


class Command(BaseCommand):
    help = "Create the demo admin (ATELIER_ADMIN_USERNAME/PASSWORD/EMAIL) and load demo catalog content."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = os.environ.get("ATELIER_ADMIN_USERNAME", "admin")
        password = os.environ.get("ATELIER_ADMIN_PASSWORD", "atelier-admin")
        email = os.environ.get("ATELIER_ADMIN_EMAIL", "admin@example.com")
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_superuser(username=username, email=email, password=password)
            self.stdout.write(self.style.SUCCESS(f"Demo admin created: {username} / {password}"))
        else:
            self.stdout.write(f"Demo admin exists: {username} (password unchanged)")
        user.groups.add(*Group.objects.filter(name__in=[CURATORS, ML_STAFF]))

        for spec in DEMO_STYLE_GUIDES:
            if not StyleGuide.objects.filter(guide_name=spec["guide_name"]).exists():
                style_guide_create(**spec)
        for spec in DEMO_PATTERNS:
            if not DesignPattern.objects.filter(pattern_name=spec["pattern_name"]).exists():
                pattern = DesignPattern(**spec)
                pattern.full_clean()
                pattern.save()
        for spec in DEMO_TEMPLATES:
            if not PromptTemplate.objects.filter(name=spec["name"]).exists():
                prompt_template_create(created_by=user, **spec)
        self.stdout.write(
            f"Demo content: {StyleGuide.objects.count()} style guides, {DesignPattern.objects.count()} patterns, "
            f"{PromptTemplate.objects.count()} templates."
        )
