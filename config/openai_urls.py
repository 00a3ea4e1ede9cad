"""/v1/: our models behind the OpenAI protocol (generation.api_openai), errors in OpenAI's shape."""

from __future__ import annotations

from django.urls import path, re_path

from generation import api_openai

app_name = "openai"

urlpatterns = [
    path("chat/completions", api_openai.ChatCompletionsApi.as_view(), name="chat-completions"),
    path("models", api_openai.ModelListApi.as_view(), name="models"),
    re_path(r"^[\s\S]*$", api_openai.OpenAiNotFound.as_view(), name="not-found"),
]
