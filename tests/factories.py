"""factory-boy factories for the data model; `make_graph` builds one of everything, linked."""

from __future__ import annotations

from typing import Any

import factory
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.authtoken.models import Token

from catalog.models import (
    DesignPattern,
    PromptTemplate,
    PromptTemplateLabel,
    PromptTemplateVersion,
    StyleGuide,
)
from core.models import OutboxEvent
from feedback.models import ComparisonItem, Feedback, ModelComparison, Promotion
from generation.models import ApiRequest, Conversation, DesignOutput, InputImage, OutputImage, Prompt
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from training.models import (
    BaseModelImport,
    Dataset,
    DatasetItem,
    ImportBatch,
    ModelAlias,
    ModelAliasEvent,
    ModelEvaluation,
    Review,
    ReviewPolicy,
    SLMModel,
    TrainingExample,
    TrainingMetric,
    TrainingRun,
    TrainingRunEvent,
)

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="{r}" fill="#e53935"/></svg>'


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-for-tests-123")


class StyleGuideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StyleGuide

    guide_name = factory.Sequence(lambda n: f"Guide {n}")
    category = "icon"
    style_rules = factory.LazyFunction(
        lambda: {"palette": ["#e53935"], "stroke_width": 2, "fill_mode": "any"}
    )


class DesignPatternFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DesignPattern

    pattern_name = factory.Sequence(lambda n: f"Pattern {n}")
    pattern_type = "badge"
    style_guide = factory.SubFactory(StyleGuideFactory)


class PromptTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromptTemplate

    name = factory.Sequence(lambda n: f"template-{n}")
    is_public = True


class TrainingExampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingExample

    prompt = factory.Sequence(lambda n: f"a red circle number {n}")
    svg_content = factory.Sequence(lambda n: SVG.format(r=10 + n % 20))
    content_hash = factory.Sequence(lambda n: f"{n:064x}")
    source_type = "manual"


def make_graph(i: int, user: Any = None) -> dict[str, Any]:
    """One linked row of every model, so every changelist has something to show."""
    user = user or UserFactory()
    guide = StyleGuideFactory()
    pattern = DesignPatternFactory(style_guide=guide)
    template = PromptTemplateFactory(created_by=user)
    version = PromptTemplateVersion.objects.create(
        template=template, version=1, content="a {{ shape }}", variables=["shape"], created_by=user
    )
    PromptTemplateLabel.objects.create(template=template, name="production", version=version, updated_by=user)
    batch = ImportBatch.objects.create(
        source_name=f"batch{i}.jsonl", format="jsonl", created_by=user, style_guide=guide
    )
    policy = ReviewPolicy.objects.create(name=f"queue-{i}", reviews_needed=2)
    example = TrainingExampleFactory(
        style_guide=guide, design_pattern=pattern, import_batch=batch, review_policy=policy
    )
    Review.objects.create(example=example, reviewer=user, verdict="accept", score=4)
    dataset = Dataset.objects.create(name=f"ds-{i}", version=1, status="ready", created_by=user)
    DatasetItem.objects.create(
        dataset=dataset,
        example=example,
        split="train",
        prompt=example.prompt,
        svg_content=example.svg_content,
        content_hash=example.content_hash,
    )
    model = SLMModel.objects.create(model_name=f"m{i}", version=1, dataset=dataset, trained_at=timezone.now())
    model2 = SLMModel.objects.create(model_name=f"m{i}", version=2, dataset=dataset, base_model=model)
    alias = ModelAlias.objects.create(name=f"alias-{i}", model_version=model2, updated_by=user)
    ModelAliasEvent.objects.create(alias=alias, from_version=model, to_version=model2, moved_by=user)
    run = TrainingRun.objects.create(
        dataset=dataset, result_model=model2, base_model=model, requested_by=user
    )
    TrainingRunEvent.objects.create(run=run, message="started")
    TrainingMetric.objects.create(run=run, step=1, name="loss", value=1.5)
    ModelEvaluation.objects.create(model_version=model2, dataset=dataset, requested_by=user)
    BaseModelImport.objects.create(
        model_name=f"base-{i}",
        source=f"/tmp/base-{i}.zip",
        source_name=f"base-{i}.zip",
        result_model=model,
        created_by=user,
    )
    conv = Conversation.objects.create(user=user, title=f"conv {i}")
    prompt = Prompt.objects.create(
        user=user,
        text_content=f"a red circle {i}",
        template_version=version,
        style_guide=guide,
        conversation=conv,
    )
    InputImage.objects.create(
        prompt=prompt, file=ContentFile(b"png", name="x.png"), file_type="png", file_size=3
    )
    output = DesignOutput.objects.create(prompt=prompt, model_version=model2, status="completed")
    OutputImage.objects.create(
        output=output,
        file=ContentFile(SVG.format(r=5).encode(), name="x.svg"),
        file_type="svg",
        sequence_order=0,
    )
    ApiRequest.objects.create(
        user=user,
        prompt=prompt,
        endpoint="/api/v1/generations/",
        method="POST",
        request_time=timezone.now(),
        status_code=202,
    )
    fb = Feedback.objects.create(output=output, user=user, rating=4, comments="nice")
    Feedback.objects.create(
        output=output, user=UserFactory(), rating=5
    )  # a second rater: a promotion candidate
    prompt_b = Prompt.objects.create(user=user, text_content=f"a blue square {i}")
    output_b = DesignOutput.objects.create(prompt=prompt_b, model_version=model, status="completed")
    comparison = ModelComparison.objects.create(model_a=model, model_b=model2, requested_by=user)
    ComparisonItem.objects.create(
        comparison=comparison, position=0, prompt_text=prompt.text_content, output_a=output_b, output_b=output
    )
    promoted = TrainingExampleFactory(source_type="feedback")
    Promotion.objects.create(
        example=promoted, output=output_b, feedback=fb, model_version=model2, promoted_by=user
    )
    Token.objects.get_or_create(user=user)
    # django-axes' login records (admin lockout): a failed attempt, a login, a failure log entry.
    where = {"user_agent": "pytest", "ip_address": f"198.51.100.{i + 1}", "path_info": "/admin/login/"}
    AccessAttempt.objects.create(
        **where, username=user.username, http_accept="*/*", get_data="", post_data="", failures_since_start=1
    )
    AccessLog.objects.create(**where, username=user.username, http_accept="*/*")
    AccessFailureLog.objects.create(**where, username=user.username, http_accept="*/*", locked_out=False)
    # A webhook subscription (secret already encrypted: any text), an event delivered to it, one attempt.
    # Switched off: the graph's pages show it, but events of the test that uses the graph are not sent to an
    # address nobody answers (their retries would wait, backing off, in the test's broker).
    hook = WebhookSubscription.objects.create(
        url=f"https://hooks.example.com/{i}", secret_encrypted="x", active=False
    )
    event = OutboxEvent.objects.create(type="feedback.created", payload={"id": str(fb.pk)})
    delivery = WebhookDelivery.objects.create(subscription=hook, event=event, event_type=event.type)
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=200, response_excerpt="ok")
    return {"user": user, "prompt": prompt, "output": output, "example": example, "dataset": dataset}


def synthetic_snapshot(*, count: int = 60, name: str = "tiny") -> Any:
    """An exported snapshot of `count` approved synthetic examples (the corpus, seed 5), for training tests."""
    from slm.synthetic import generate_corpus
    from training.services.snapshots import dataset_export, dataset_snapshot_create

    for ex in generate_corpus(count, seed=5, unique=True):
        TrainingExample.objects.create(
            prompt=ex.prompt,
            svg_content=ex.svg,
            content_hash=ex.prompt[:64].ljust(64, "x"),
            status="approved",
        )
    snapshot = dataset_snapshot_create(
        name=name, examples=TrainingExample.objects.all(), seed=1, enqueue=False
    )
    return dataset_export(dataset_id=snapshot.pk)
