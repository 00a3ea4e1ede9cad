from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training: data, snapshots, models, runs"

    def ready(self) -> None:
        from training import tasks  # noqa: F401 - declares the job kinds (core.jobs) in every process
