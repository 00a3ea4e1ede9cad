from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Feedback and promotion"

    def ready(self) -> None:
        # Feedback sits above generation and training: it hands them what it protects and what it adds to
        # a model's lineage through their registration points, so they never import feedback.
        from feedback.selectors import promoted_prompt_ids, promotions_in_snapshot
        from generation.retention import register_protected_prompts
        from training.selectors import register_lineage_promotions

        register_protected_prompts(promoted_prompt_ids)
        register_lineage_promotions(promotions_in_snapshot)
