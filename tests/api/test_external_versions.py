"""External model versions: endpoints that time out or answer garbage, deployment health per alias (the
live server's own /v1/ stands in for a healthy endpoint), and the admin's registration form that never
shows the key. Generation and evaluation against a real second Atelier server (a subprocess with its own
database and model): tests/api/test_external_server.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dramatiq
import pytest
from cryptography.fernet import Fernet
from rest_framework.authtoken.models import Token

from core.roles import API_CONSUMERS
from generation import engine
from generation.models import OutputImage
from generation.services.jobs import MASKED_ERROR
from tests.api.conftest import FakeGenerator, client_for
from tests.shared_fixtures import user_in_role
from training.models import SLMModel
from training.services.external import external_model_register

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/generations/?wait=30"


@pytest.fixture(autouse=True)
def _external_settings(settings: Any) -> None:
    settings.EXTERNAL_KEYS_FERNET = [Fernet.generate_key().decode()]
    settings.EXTERNAL_MAX_RETRIES = 0
    settings.EXTERNAL_TIMEOUT_SECONDS = 10


@pytest.fixture
def worker(stub_broker: Any) -> Iterator[dramatiq.Worker]:
    """Several threads: an external request's job waits on the second server's, which needs a thread too."""
    from core.embedded import import_tasks_modules

    import_tasks_modules()
    w = dramatiq.Worker(stub_broker, worker_timeout=100, worker_threads=4)
    w.start()
    yield w
    w.stop()


@pytest.fixture
def local_only_fake(monkeypatch: pytest.MonkeyPatch) -> FakeGenerator:
    """The second server's own model is a stand-in generator; external versions get their real client."""
    fake, real = FakeGenerator(), engine.get_generator
    monkeypatch.setattr(engine, "get_generator", lambda m: real(m) if m.is_external else fake)
    return fake


@pytest.fixture
def service_token(db: Any) -> str:
    """The second server's API token for the first: the external version's API key."""
    user = user_in_role("external-caller", API_CONSUMERS)
    return Token.objects.create(user=user).key


def register(endpoint: str, key: str = "", model: str = "production") -> SLMModel:
    return external_model_register(
        model_name="hosted", endpoint_url=endpoint, external_model=model, api_key=key
    )


class Endpoint(BaseHTTPRequestHandler):
    """A misbehaving OpenAI-compatible endpoint: `mode` is slow, garbage or prose."""

    mode = "slow"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.mode == "slow":
            time.sleep(3)
            body, kind = b"{}", "application/json"
        elif self.mode == "garbage":
            body, kind = b"\x00\xffnot json {{{", "application/json"
        else:  # a well-formed completion whose content is no SVG
            body = (
                b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
                b'"message":{"role":"assistant","content":"Sure! Here is an icon: a circle."},'
                b'"finish_reason":"stop"}]}'
            )
            kind = "application/json"
        try:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (the timeout test)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[Endpoint]]]:
    handler = type("Handler", (Endpoint,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["slow", "garbage", "prose"])
def test_an_endpoint_that_times_out_or_answers_garbage_fails_the_generation_masked(
    live_server, owner, model_version, worker, endpoint, settings, mode, caplog
):
    settings.EXTERNAL_TIMEOUT_SECONDS = 0.5
    url, handler = endpoint
    handler.mode = mode
    register(url, "sk-test-secret-key-123")
    body = client_for(owner).post(URL, {"text": "a red circle", "model": "hosted:1"}, format="json").json()
    assert body["status"] == "failed", body
    if mode == "prose":  # a reply with no design: the pipeline's own message, which names no internals
        assert body["error"].startswith("The model produced no usable design (1 candidate(s): invalid SVG")
    else:
        assert body["error"] == MASKED_ERROR
    assert body["designs"] == [] and not OutputImage.objects.exists()
    assert "sk-test-secret-key-123" not in caplog.text


def test_deployment_health_per_alias(
    live_server, model_version, local_only_fake, worker, service_token, client, superuser
):
    from django.core.management import call_command

    from training.models import Deployment, ModelAlias

    ModelAlias.objects.create(name="staging", model_version=register(f"{live_server.url}/v1", service_token))
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    dead_url = f"http://127.0.0.1:{closed.server_port}/v1"
    closed.server_close()  # nothing listens there now
    broken = external_model_register(
        model_name="gone", endpoint_url=dead_url, external_model="m", api_key="k"
    )
    ModelAlias.objects.create(name="broken", model_version=broken)
    call_command("check_deployments")
    found = {d.alias.name: d for d in Deployment.objects.select_related("alias")}
    assert found["staging"].status == "healthy" and found["staging"].endpoint_url == f"{live_server.url}/v1"
    assert found["staging"].latency_ms is not None and found["staging"].last_error == ""
    assert found["broken"].status == "failing" and "APIConnectionError" in found["broken"].last_error
    assert found["production"].status == "failing" and "artifacts" in found["production"].last_error
    page = client.get("/admin/training/modelalias/").content.decode()
    assert dead_url in page and "Healthy" in page and "APIConnectionError" in page
    assert service_token not in page


def test_admin_registers_an_external_version_and_never_shows_its_key(client, superuser, db):
    url = "/admin/training/slmmodel/register-external/"
    form = {
        "model_name": "hosted",
        "service": "openai",
        "endpoint_url": "https://api.example.com/v1",
        "external_model": "gpt-x",
        "api_key": "sk-admin-secret-456",
        "shots": "3",
    }
    bad = client.post(url, {**form, "endpoint_url": "ftp://example.com/v1"})
    assert bad.status_code == 200 and "sk-admin-secret-456" not in bad.content.decode()
    assert not SLMModel.objects.filter(model_name="hosted").exists()
    response = client.post(url, form)
    assert response.status_code == 302
    hosted = SLMModel.objects.get(model_name="hosted")
    assert hosted.external_service == "openai" and hosted.api_key_encrypted
    from training.external_keys import api_key_decrypt

    assert api_key_decrypt(hosted.api_key_encrypted) == "sk-admin-secret-456"
    for page in (client.get(response["Location"]), client.get("/admin/training/slmmodel/"), client.get(url)):
        assert page.status_code == 200 and "sk-admin-secret-456" not in page.content.decode()
        assert hosted.api_key_encrypted not in page.content.decode()
