from django.apps import AppConfig
from django.conf import settings


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from core import events
        from core.jobs.periodic import register_periodic
        from generation.retention import register_purge
        from integrations import tasks
        from integrations.selectors import subscriptions_want
        from integrations.services.retention import purge_webhooks

        # A commit that wrote events wakes the dispatcher; the sweeper catches what a dead process left.
        events.listen(tasks.dispatch_soon)
        events.audience(subscriptions_want)  # opt-in events are written only when a subscription named them
        register_periodic("webhook-sweep", settings.WEBHOOK_SWEEP_SECONDS, tasks.sweep)
        register_purge("webhooks", purge_webhooks)
