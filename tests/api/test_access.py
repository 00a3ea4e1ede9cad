"""Every route against every role: anonymous 401, owner 2xx, another user (staff too) 404 on others' ids."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from generation.models import DesignOutput
from tests.api.conftest import client_for, png_bytes, run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(api, owner, model_version, fake_generator):
    image = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
    body = api.post(
        "/api/v1/generations/", {"text": "a red circle", "images": [image]}, format="multipart"
    ).json()
    run_jobs()
    conv = api.post("/api/v1/conversations/", {"title": "mine"}, format="json").json()
    output = DesignOutput.objects.get(pk=body["id"])
    return {"output": output, "image": output.prompt.input_images.get(), "conversation": conv["id"]}


OWN = {
    "detail": lambda w: f"/api/v1/generations/{w['output'].pk}/",
    "svg": lambda w: f"/api/v1/generations/{w['output'].pk}/designs/0/svg/",
    "png": lambda w: f"/api/v1/generations/{w['output'].pk}/designs/0/png/",
    "input": lambda w: f"/api/v1/generations/{w['output'].pk}/inputs/{w['image'].pk}/",
    "conversation": lambda w: f"/api/v1/conversations/{w['conversation']}/",
}
NOT_FOUND = {  # the code another user's id answers: the same as an id that does not exist
    "detail": "generation_not_found",
    "svg": "design_not_found",
    "png": "design_not_found",
    "input": "input_image_not_found",
    "conversation": "conversation_not_found",
}
LISTS = {
    "generations": "/api/v1/generations/",
    "conversations": "/api/v1/conversations/",
    "style-guides": "/api/v1/style-guides/",
    "patterns": "/api/v1/patterns/",
    "templates": "/api/v1/templates/",
    "models": "/api/v1/models/",
}
POSTS = {
    "generations": ("/api/v1/generations/", {"text": "a blue square"}, 202),
    "conversations": ("/api/v1/conversations/", {"title": "t"}, 201),
}


def _assert_error(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    if code:
        assert error["code"] == code


@pytest.mark.parametrize("route", sorted(OWN))
def test_own_rows_by_role(world, route, other, staff):
    url = OWN[route](world)
    _assert_error(APIClient().get(url), 401, "not_authenticated")
    assert client_for(world["output"].prompt.user).get(url).status_code == 200
    _assert_error(client_for(other).get(url), 404, NOT_FOUND[route])
    _assert_error(
        client_for(staff).get(url), 404, NOT_FOUND[route]
    )  # the API shows own rows; staff use the admin


@pytest.mark.parametrize("route", sorted(LISTS))
def test_lists_by_role(world, route, owner, other, staff):
    url = LISTS[route]
    _assert_error(APIClient().get(url), 401)
    mine = client_for(owner).get(url)
    assert mine.status_code == 200 and "results" in mine.json()
    for user in (other, staff):
        theirs = client_for(user).get(url)
        assert theirs.status_code == 200
        if route in ("generations", "conversations"):
            assert theirs.json()["count"] == 0
        else:
            assert theirs.json() == mine.json()


@pytest.mark.parametrize("route", sorted(POSTS))
def test_writes_by_role(route, owner, other, staff, model_version, fake_generator):
    url, payload, expected = POSTS[route]
    _assert_error(APIClient().post(url, payload, format="json"), 401)
    for user in (owner, other, staff):
        assert client_for(user).post(url, payload, format="json").status_code == expected


def test_unknown_ids_and_paths_are_404_in_the_error_shape(api, world):
    _assert_error(api.get("/api/v1/generations/00000000-0000-0000-0000-000000000000/"), 404)
    _assert_error(api.get(f"/api/v1/generations/{world['output'].pk}/designs/7/svg/"), 404)
    _assert_error(api.get("/api/v1/nothing-here/"), 404)
    _assert_error(APIClient().get("/api/v2/"), 404)


def test_method_not_allowed_uses_the_error_shape(api):
    _assert_error(api.delete("/api/v1/models/"), 405)


def test_bad_token_is_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    _assert_error(client.get("/api/v1/generations/"), 401, "authentication_failed")


def test_session_auth_works_and_checks_csrf(world, owner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/api/v1/generations/").json()["count"] == 1
    _assert_error(client.post("/api/v1/conversations/", {"title": "x"}, format="json"), 403)


def test_drf_create_token_gives_a_working_token(owner, model_version):
    call_command("drf_create_token", owner.username)
    token = Token.objects.get(user=owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/models/").json()["results"][0]["aliases"] == ["production"]


def test_docs_and_schema_are_served_offline(api):
    schema = APIClient().get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/generations/" in schema.json()["paths"]
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html and "unpkg" not in html  # sidecar: no CDN
