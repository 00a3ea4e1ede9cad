"""Our models behind the OpenAI protocol, as vLLM, TGI and llama.cpp serve theirs: POST /v1/chat/completions
and GET /v1/models. Point any OpenAI client at `<site>/v1` with an API token as its key.

The same service (generation_create, then a wait for the worker), tokens (sent as `Bearer`), roles,
throttles and request log as /api/v1/generations/; only the shapes differ. A completion's choices are
the request's designs, each message's content one sanitised SVG.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ApiMixin, HasModelPerm
from core.api_auth import BearerTokenAuthentication, ThrottledTokenAuthentication
from core.api_errors import ApiError
from core.errors import CommonErrorCode
from core.jobs.models import JobStatus
from generation import selectors
from generation.api import GenerationCreateThrottle
from generation.errors import GenerationErrorCode as Codes
from generation.models import DesignOutput
from generation.openai_errors import openai_error_body, openai_errors
from generation.services.request_inputs import MAX_PROMPT_CHARS
from generation.services.requests import MAX_COUNT, generation_create
from training import selectors as training_selectors
from training.errors import TrainingErrorCode
from training.models import SLMModel

ROLES = ("system", "developer", "user", "assistant", "tool")


class OpenAiMixin(ApiMixin):
    # Bearer first: a 401 then says `WWW-Authenticate: Bearer`, as OpenAI's does.
    authentication_classes = [BearerTokenAuthentication, ThrottledTokenAuthentication]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        response.data = openai_error_body(response.data, response.status_code)
        return response


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = serializers.JSONField(required=False, allow_null=True, help_text="A string or text parts.")

    def validate_content(self, value: Any) -> str:
        """A string, or OpenAI's list of parts of which the text ones are read."""
        if value is None or isinstance(value, str):
            return value or ""
        if isinstance(value, list) and all(isinstance(p, dict) for p in value):
            return "\n".join(str(p.get("text", "")) for p in value if p.get("type") == "text")
        raise serializers.ValidationError("A string or a list of content parts.")


class ChatCompletionSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=200, help_text="An alias (`production`) or `name:version`.")
    messages = MessageSerializer(many=True, allow_empty=False)
    n = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, default=1, help_text="Designs to return.")
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**62)
    stream = serializers.BooleanField(required=False, default=False)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    user = serializers.CharField(required=False, allow_blank=True, max_length=200)

    class Meta:
        ref_name = "ChatCompletionCreate"

    def validate_stream(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError("Streaming is not offered: a design is returned whole.")
        return value

    def validate_messages(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        users = [m["content"] for m in value if m["role"] == "user" and (m.get("content") or "").strip()]
        if not users:
            raise serializers.ValidationError("Give at least one user message with text: the prompt.")
        if len(users[-1]) > MAX_PROMPT_CHARS:
            raise serializers.ValidationError(f"The last user message is over {MAX_PROMPT_CHARS} characters.")
        return value


class ChatMessageOut(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(help_text="One sanitised SVG design.")


class ChoiceOut(serializers.Serializer):
    index = serializers.IntegerField()
    message = ChatMessageOut()
    finish_reason = serializers.CharField()


class UsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatCompletionOut(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChoiceOut(many=True)
    usage = UsageOut()


def _svg_texts(output: DesignOutput) -> list[str]:
    svgs = sorted((i for i in output.images.all() if i.file_type == "svg"), key=lambda i: i.sequence_order)
    texts = []
    for image in svgs:
        with image.file.open("rb") as fh:
            texts.append(fh.read().decode("utf-8"))
    return texts


def completion_body(output: DesignOutput, *, model: str) -> dict[str, Any]:
    """A completed request as OpenAI's chat.completion object: one choice per design."""
    svgs = _svg_texts(output)
    tokens = ((output.design_metadata or {}).get("tokens") or {}).get("generated") or 0
    prompt_tokens = len((output.prompt.text_content or "").split())  # words: our tokenizer is the model's
    return {
        "id": f"chatcmpl-{output.pk}",
        "object": "chat.completion",
        "created": int(output.created_at.timestamp()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": svg},
                "logprobs": None,
                "finish_reason": "stop",
            }
            for i, svg in enumerate(svgs)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": int(tokens),
            "total_tokens": prompt_tokens + int(tokens),
        },
    }


class ChatCompletionsApi(OpenAiMixin, APIView):
    permission_classes = [HasModelPerm]
    required_perms = {"POST": ("generation.add_prompt",)}  # the API consumers' role

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), GenerationCreateThrottle()]

    @extend_schema(
        summary="Create a chat completion (OpenAI protocol): the prompt's designs",
        description=(
            "OpenAI's chat completions, as vLLM and TGI serve them. The last user message is the prompt; "
            "`n` designs are made (fewer when the model gives fewer distinct ones), each choice's content "
            "one sanitised SVG. The call waits for the designs (OPENAI_WAIT_SECONDS); errors come in "
            "OpenAI's shape, `code` being one of ours. Send the API token as `Authorization: Bearer`."
        ),
        request=ChatCompletionSerializer,
        responses={
            200: ChatCompletionOut,
            **openai_errors(
                CommonErrorCode.VALIDATION_ERROR,
                TrainingErrorCode.UNKNOWN_MODEL,
                TrainingErrorCode.UNTUNED_BASE_MODEL,
                Codes.GENERATION_FAILED,
                Codes.GENERATION_TIMEOUT,
                body=True,
            ),
        },
        tags=["openai"],
    )
    def post(self, request: Request) -> Response:
        data = ChatCompletionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        prompt = [m["content"] for m in v["messages"] if m["role"] == "user" and m["content"].strip()][-1]
        output = generation_create(
            user=request.user,
            text=prompt,
            count=v["n"],
            model=v["model"],
            seed=v.get("seed"),
            temperature=v.get("temperature"),
        )
        self.log_prompt_id = output.prompt_id
        found = selectors.generation_wait(
            user=request.user, output=output, timeout=settings.OPENAI_WAIT_SECONDS
        )
        if found is None or found.status == JobStatus.FAILED:
            raise ApiError(Codes.GENERATION_FAILED, (found.error_message if found else None) or None)
        if found.status != JobStatus.COMPLETED:
            raise ApiError(
                Codes.GENERATION_TIMEOUT,
                f"The designs were not ready in time: read them later at /api/v1/generations/{output.pk}/.",
            )
        return Response(completion_body(found, model=v["model"]))


class ModelOut(serializers.Serializer):
    id = serializers.CharField(help_text="An alias, or `name:version`.")
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListOut(serializers.Serializer):
    object = serializers.CharField()
    data = ModelOut(many=True)


class ModelListApi(OpenAiMixin, APIView):
    @extend_schema(
        summary="List models (OpenAI protocol): aliases and versions that draw designs",
        description="Every alias, then every `name:version` that can draw (imported base models cannot).",
        responses={200: ModelListOut, **openai_errors()},
        tags=["openai"],
    )
    def get(self, request: Request) -> Response:
        def entry(name: str, created: Any) -> dict[str, Any]:
            return {"id": name, "object": "model", "created": int(created.timestamp()), "owned_by": "atelier"}

        aliases = [entry(a.name, a.created_at) for a in training_selectors.model_alias_list()]
        versions = [
            entry(f"{m.model_name}:{m.version}", m.created_at)
            for m in training_selectors.model_version_list()
            .exclude(training_strategy=SLMModel.Strategy.PRETRAINED)
            .order_by("model_name", "-version")
        ]
        return Response({"object": "list", "data": aliases + versions})


@extend_schema(exclude=True)
class OpenAiNotFound(OpenAiMixin, APIView):
    """Unknown paths under /v1/ answer 404 in OpenAI's error shape (and are logged)."""

    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []

    def _missing(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ApiError(CommonErrorCode.NOT_FOUND)

    get = post = put = patch = delete = _missing
