from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Accounts and audit"

    def ready(self) -> None:
        from core import audit, auth_backends

        audit.register_models()
        auth_backends.connect_signals()
