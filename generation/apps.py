from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation: prompts, designs, API log"

    def ready(self) -> None:
        from core.api import api_request_done
        from generation import tasks  # noqa: F401 - declares the generation job kind (core.jobs) in every process
        from generation.api_log import api_request_log

        api_request_done.connect(api_request_log, dispatch_uid="generation.api_request_log")
