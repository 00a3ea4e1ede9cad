"""Roles as groups. `sync_roles` is idempotent: migrations call it, so does `manage.py sync_roles`."""

from __future__ import annotations

from typing import Any

CURATORS = "Curators"
ML_STAFF = "ML staff"
API_CONSUMERS = "API consumers"

ALL = ("add", "change", "delete", "view")

# (app_label, model) -> actions, per role. Custom permissions are listed by codename.
ROLE_PERMISSIONS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    CURATORS: {
        ("catalog", "styleguide"): ALL,
        ("catalog", "designpattern"): ALL,
        ("catalog", "prompttemplate"): ALL,
        ("catalog", "prompttemplateversion"): ("add", "view"),
        ("catalog", "prompttemplatelabel"): ALL,
        ("training", "trainingexample"): ALL,
        # Reviews: each reviewer writes their own (training.services.reviews); the queues are the curators'.
        ("training", "review"): ("add", "change", "view"),
        ("training", "reviewpolicy"): ALL,
        ("training", "importbatch"): ("add", "view"),
        ("training", "dataset"): ("add", "view"),
        ("training", "datasetitem"): ("view",),
        ("training", "slmmodel"): ("view",),
        ("training", "modelalias"): ("view",),
        ("training", "trainingrun"): ("view",),
        # add_prompt: the admin's playground requests designs through the API's service (studio).
        ("generation", "prompt"): ("add", "view"),
        ("generation", "designoutput"): ("view",),
        ("generation", "outputimage"): ("view",),
        ("generation", "conversation"): ("view",),
        ("feedback", "feedback"): ("view", "change"),
        ("feedback", "promotion"): ("add", "view"),
        ("feedback", "promotioncandidate"): ("view",),
        ("feedback", "modelcomparison"): ("add", "view"),
        ("integrations", "webhooksubscription"): ALL,
        ("integrations", "webhookdelivery"): ("view", "change"),  # change: the replay action
        ("integrations", "webhookattempt"): ("view",),
    },
    ML_STAFF: {
        ("training", "trainingexample"): ("view",),
        ("training", "dataset"): ("add", "view"),
        ("training", "datasetitem"): ("view",),
        ("training", "slmmodel"): ("view", "change"),
        ("training", "modelalias"): ALL,
        ("training", "modelaliasevent"): ("view",),
        ("training", "trainingrun"): ("add", "change", "view"),
        ("training", "trainingrunevent"): ("view",),
        ("training", "trainingmetric"): ("view",),
        ("training", "modelevaluation"): ("add", "view"),
        ("training", "importbatch"): ("view",),
        ("training", "basemodelimport"): ("add", "view"),
        ("catalog", "styleguide"): ("view",),
        ("catalog", "designpattern"): ("view",),
        ("catalog", "prompttemplate"): ("view",),
        ("generation", "prompt"): ("add", "view"),  # the playground (studio)
        ("generation", "designoutput"): ("view",),
        ("generation", "outputimage"): ("view",),
        ("generation", "apirequest"): ("view",),
        ("feedback", "feedback"): ("view",),
        ("feedback", "modelcomparison"): ("add", "view"),
        ("integrations", "webhooksubscription"): ALL,
        ("integrations", "webhookdelivery"): ("view", "change"),  # change: the replay action
        ("integrations", "webhookattempt"): ("view",),
    },
    API_CONSUMERS: {
        ("generation", "prompt"): ("add", "view"),
        ("generation", "designoutput"): ("view",),
        ("generation", "conversation"): ("add", "change", "view"),
        ("feedback", "feedback"): ("add", "change", "view"),
    },
}
CUSTOM_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    ML_STAFF: [("training", "move_production_alias")],
}


def roles_holding(perms: tuple[str, ...] | list[str]) -> list[str]:
    """The roles whose group holds every one of `perms` ("app_label.codename"), for messages that say who may."""
    out = []
    for role, table in ROLE_PERMISSIONS.items():
        held = {f"{app}.{action}_{model}" for (app, model), actions in table.items() for action in actions}
        held |= {f"{app}.{codename}" for app, codename in CUSTOM_PERMISSIONS.get(role, [])}
        if set(perms) <= held:
            out.append(role)
    return out


def sync_roles(apps: Any) -> None:
    """Create the groups and set exactly the permissions above (apps: a registry, historical or live)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, table in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for (app_label, model), actions in table.items():
            for action in actions:
                wanted.append((app_label, f"{action}_{model}"))
        wanted += CUSTOM_PERMISSIONS.get(role, [])
        perms = [
            p
            for p in Permission.objects.select_related("content_type")
            if (p.content_type.app_label, p.codename) in set(wanted)
        ]
        group.permissions.set(perms)
    # With a migration's historical models no signal reaches the permission cache: replace it here.
    from core.auth_backends import permissions_changed

    permissions_changed()
