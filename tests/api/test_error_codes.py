"""Error codes: every error response the OpenAPI schema documents lists its codes as an enum of known codes
(core.errors and the areas' enums), and real error answers carry codes from those enums, each one that its
operation's schema lists for that status."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.errors import CatalogErrorCode
from core.errors import AuthErrorCode, CommonErrorCode, ErrorCode
from feedback.errors import FeedbackErrorCode
from generation.errors import GenerationErrorCode
from tests.api.conftest import client_for, run_jobs
from tests.factories import UserFactory
from training.errors import TrainingErrorCode

pytestmark = pytest.mark.django_db
AREAS = [
    CommonErrorCode,
    AuthErrorCode,
    CatalogErrorCode,
    TrainingErrorCode,
    GenerationErrorCode,
    FeedbackErrorCode,
]
KNOWN = {code.value: code for area in AREAS for code in area}
NO_ID = "00000000-0000-0000-0000-000000000000"


def _schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _codes(response: dict[str, Any]) -> list[str]:
    schema = response["content"]["application/json"]["schema"]
    assert "$ref" not in schema, "an error response's codes are its own, not a shared component's"
    assert schema["required"] == ["error"]
    error = schema["properties"]["error"]
    # /api/'s shape, or OpenAI's under /v1/ (generation.openai_errors): `code` is ours in both.
    assert set(error["required"]) in ({"code", "message", "fields"}, {"message", "type", "param", "code"})
    return error["properties"]["code"]["enum"]


def test_the_areas_are_all_the_enums_and_no_code_is_declared_twice():
    assert set(ErrorCode.areas()) == set(AREAS)
    values = [code.value for area in AREAS for code in area]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", v) for v in values)


def test_every_error_response_in_the_schema_is_an_enum_of_known_codes_of_its_status():
    operations = 0
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            operations += 1
            errors = {int(s): r for s, r in operation["responses"].items() if int(s) >= 400}
            assert {401, 403, 429} <= set(errors), (method, path)  # authentication, roles, throttling
            for status, response in errors.items():
                codes = _codes(response)
                assert codes, (method, path, status)
                for value in codes:
                    assert value in KNOWN, (method, path, status, value)
                    assert KNOWN[value].status == status, (method, path, status, value)
                    assert f"`{value}`" in response["description"]  # the docs say what each code means
    assert operations >= 20


@pytest.fixture
def documented() -> Any:
    """(method, path template, status) -> the codes the schema lists."""
    table = {}
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    table[(method.upper(), path, int(status))] = set(_codes(response))
    return table


def test_real_errors_carry_codes_from_the_enums_that_their_operation_documents(
    api, owner, other, staff, model_version, fake_generator, documented, settings
):
    done = api.post("/api/v1/generations/", {"text": "a red circle"}, format="json").json()["id"]
    run_jobs()
    pending = api.post("/api/v1/generations/", {"text": "a blue square"}, format="json").json()["id"]
    nobody = client_for(UserFactory(username="nobody"))
    wrong_token = APIClient()
    wrong_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    gen, one = "/api/v1/generations/", "/api/v1/generations/{id}/"
    calls = [
        (APIClient().get(gen), "GET", gen, AuthErrorCode.NOT_AUTHENTICATED),
        (wrong_token.get(gen), "GET", gen, AuthErrorCode.AUTHENTICATION_FAILED),
        (nobody.post(gen, {"text": "x"}, format="json"), "POST", gen, AuthErrorCode.PERMISSION_DENIED),
        (api.get(gen, {"status": "sideways"}), "GET", gen, CommonErrorCode.VALIDATION_ERROR),
        (api.get(gen, {"page": 99}), "GET", gen, CommonErrorCode.NOT_FOUND),
        (
            api.post(gen, "{", content_type="application/json"),
            "POST",
            gen,
            CommonErrorCode.PARSE_ERROR,
        ),
        (
            api.post(gen, "text", content_type="text/plain"),
            "POST",
            gen,
            CommonErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ),
        (api.post(gen, {"template": "nope"}, format="json"), "POST", gen, CatalogErrorCode.UNKNOWN_TEMPLATE),
        (
            api.post(gen, {"text": "x", "model": "nope"}, format="json"),
            "POST",
            gen,
            TrainingErrorCode.UNKNOWN_MODEL,
        ),
        (api.get(f"{gen}{NO_ID}/"), "GET", one, GenerationErrorCode.GENERATION_NOT_FOUND),
        (api.get(f"{gen}not-an-id/"), "GET", one, CommonErrorCode.NOT_FOUND),
        (
            api.get(f"{gen}{done}/designs/7/svg/"),
            "GET",
            "/api/v1/generations/{id}/designs/{seq}/svg/",
            GenerationErrorCode.DESIGN_NOT_FOUND,
        ),
        (
            client_for(other).get(f"/api/v1/conversations/{uuid.uuid4()}/"),
            "GET",
            "/api/v1/conversations/{id}/",
            GenerationErrorCode.CONVERSATION_NOT_FOUND,
        ),
        (
            api.post(f"{gen}{pending}/feedback/", {"rating": 4}, format="json"),
            "POST",
            "/api/v1/generations/{id}/feedback/",
            FeedbackErrorCode.NOT_RATEABLE,
        ),
        (
            api.get(f"/api/v1/feedback/{NO_ID}/"),
            "GET",
            "/api/v1/feedback/{id}/",
            FeedbackErrorCode.FEEDBACK_NOT_FOUND,
        ),
        (
            client_for(staff).get(f"/api/v1/imports/{NO_ID}/"),
            "GET",
            "/api/v1/imports/{id}/",
            TrainingErrorCode.IMPORT_NOT_FOUND,
        ),
        (
            client_for(staff).post("/api/v1/datasets/", {"name": "none", "status": "draft"}, format="json"),
            "POST",
            "/api/v1/datasets/",
            TrainingErrorCode.EMPTY_SNAPSHOT,
        ),
        (api.delete("/api/v1/models/"), "DELETE", None, CommonErrorCode.METHOD_NOT_ALLOWED),
        (api.get("/api/v1/nothing-here/"), "GET", None, CommonErrorCode.NOT_FOUND),
    ]
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "1/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    calls.append((api.get("/api/v1/models/"), "GET", "/api/v1/models/", CommonErrorCode.THROTTLED))

    for response, method, path, expected in calls:
        assert response.status_code == expected.status, (method, path, response.content)
        code = response.json()["error"]["code"]
        assert code == expected.value and code in KNOWN, (method, path, response.json())
        if path is not None:  # a route the schema has: the code is one it lists for this status
            assert code in documented[(method, path, response.status_code)], (method, path, code)


def test_the_readme_table_lists_every_code_with_its_status():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", readme, flags=re.MULTILINE))
    assert rows == {value: str(code.status) for value, code in KNOWN.items()}
