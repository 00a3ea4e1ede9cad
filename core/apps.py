from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Accounts and audit"

    def ready(self) -> None:
        from core import api_schema, audit, auth_backends  # noqa: F401 (api_schema: registers its extensions)

        audit.register_models()
        auth_backends.connect_signals()
