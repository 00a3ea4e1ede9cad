from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training: data, snapshots, models, runs"

    def ready(self) -> None:
        # Declares the actors and registers their recoverable job kinds (core.jobs) in every process.
        from training import tasks  # noqa: F401
