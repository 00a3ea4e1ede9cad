from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation: prompts, designs, API log"

    def ready(self) -> None:
        # Declares the actors and registers their recoverable job kinds (core.jobs) in every process.
        from generation import tasks  # noqa: F401
