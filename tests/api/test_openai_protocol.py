"""Our models behind the OpenAI protocol (/v1/), called by the official `openai` client against a live server
on loopback: the same service, tokens, roles, throttles and request log as /api/v1/generations/."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from rest_framework.authtoken.models import Token

from generation.models import ApiRequest, DesignOutput
from generation.services.jobs import MASKED_ERROR
from tests.shared_fixtures import user_in_role

pytestmark = pytest.mark.django_db(transaction=True)
PROMPT = [{"role": "user", "content": "a large red circle at the center"}]


@pytest.fixture
def worker(stub_broker: Any, stub_worker: Any) -> Any:
    """The stub broker's worker: the live server (same process) enqueues, it runs the generation queue."""
    from core.embedded import import_tasks_modules

    import_tasks_modules()
    yield stub_worker


def client(live_server: Any, user: Any, **kw: Any) -> openai.OpenAI:
    token, _ = Token.objects.get_or_create(user=user)
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=token.key, max_retries=0, **kw)


def test_the_openai_client_gets_an_svg_design_from_production(
    live_server, owner, model_version, fake_generator, worker
):
    reply = client(live_server, owner).chat.completions.create(model="production", messages=PROMPT)
    [choice] = reply.choices
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content.startswith("<svg") and "<circle" in choice.message.content
    assert reply.model == "production" and reply.usage.completion_tokens > 0
    output = DesignOutput.objects.get()
    assert reply.id == f"chatcmpl-{output.pk}" and output.status == "completed"
    assert output.model_version == model_version and output.prompt.text_content == PROMPT[0]["content"]
    assert fake_generator.calls[0]["prompts"] == [PROMPT[0]["content"]]
    # The request log holds the call, with its prompt, and never the token.
    row = ApiRequest.objects.get(endpoint="/v1/chat/completions")
    assert row.user == owner and row.status_code == 200 and row.prompt_id == output.prompt_id
    token = Token.objects.get(user=owner).key
    assert token not in str(row.__dict__)


def test_name_version_n_and_hostile_svg_sanitised(live_server, owner, model_version, fake_generator, worker):
    from tests.api.conftest import HOSTILE

    fake_generator.make = lambda p, i: HOSTILE if i == 0 else HOSTILE.replace('r="20"', f'r="{10 + i}"')
    reply = client(live_server, owner).chat.completions.create(
        model="atelier-slm:1", messages=PROMPT, n=2, temperature=0.9, seed=3
    )
    assert len(reply.choices) == 2 and [c.index for c in reply.choices] == [0, 1]
    for c in reply.choices:
        assert "<script" not in c.message.content and "onload" not in c.message.content
        assert "javascript:" not in c.message.content


def test_models_lists_aliases_and_versions(live_server, owner, model_version):
    ids = [m.id for m in client(live_server, owner).models.list()]
    assert ids == ["production", "atelier-slm:1"]


def test_without_a_token_401_in_openai_error_shape(live_server, model_version):
    for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
        r = httpx.request(
            method, f"{live_server.url}{path}", json={"model": "production", "messages": PROMPT}
        )
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "not_authenticated" and error["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError) as caught:
        openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="wrong", max_retries=0).models.list()
    assert caught.value.code == "authentication_failed"


def test_bad_input_answers_in_openai_shape(live_server, owner, model_version, fake_generator, worker):
    c = client(live_server, owner)
    with pytest.raises(openai.BadRequestError) as caught:
        c.chat.completions.create(model="nope", messages=PROMPT)
    assert caught.value.code == "unknown_model" and caught.value.param == "model"
    with pytest.raises(openai.BadRequestError) as caught:
        c.chat.completions.create(model="production", messages=[{"role": "system", "content": "hi"}])
    assert caught.value.code == "validation_error" and caught.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as caught:
        c.chat.completions.create(model="production", messages=PROMPT, stream=True)
    assert caught.value.param == "stream"
    assert not DesignOutput.objects.exists()
    r = httpx.get(f"{live_server.url}/v1/nowhere", headers={"Authorization": f"Bearer {c.api_key}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_roles_apply(live_server, model_version, fake_generator):
    nobody = user_in_role("nobody")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(live_server, nobody).chat.completions.create(model="production", messages=PROMPT)
    assert caught.value.code == "permission_denied" and "API consumers" in caught.value.message
    assert [m.id for m in client(live_server, nobody).models.list()] == ["production", "atelier-slm:1"]


def test_a_failed_generation_is_masked(live_server, owner, model_version, fake_generator, worker):
    def boom(prompt: str, i: int) -> str:
        raise RuntimeError("secret internal detail")

    fake_generator.make = boom
    with pytest.raises(openai.APIStatusError) as caught:
        client(live_server, owner).chat.completions.create(model="production", messages=PROMPT)
    assert caught.value.status_code == 502 and caught.value.code == "generation_failed"
    assert caught.value.body["message"] == MASKED_ERROR and "secret" not in caught.value.response.text
    assert DesignOutput.objects.get().status == "failed"


def test_throttles_apply(live_server, owner, model_version, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "1/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    c = client(live_server, owner)
    c.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        c.models.list()
    assert caught.value.code == "throttled"
