"""Security and integrity (issue 13): each finding, reproduced through the test client or the API, as an
attacker would try it, and the answer it now gets."""

from __future__ import annotations

import uuid

import pytest
from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.services import prompt_template_create
from core.roles import CURATORS, ML_STAFF
from core.services import soft_delete
from feedback.models import Feedback
from generation.models import ApiRequest, Conversation, DesignOutput, OutputImage, Prompt
from generation.services.jobs import PROMPT_DELETED
from tests.api.conftest import assert_field_error, client_for, run_jobs
from tests.factories import UserFactory
from tests.shared_fixtures import user_in_role
from training.models import ModelAlias, SLMModel
from training.services.registry import model_alias_move

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    for name, messages in body["error"]["fields"].items():
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (name, messages)
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- 1. aliases: only with the model permission, never named like a version ---------------------------


def test_a_curator_cannot_create_or_move_an_alias_in_the_service_or_the_admin(roles, model_version):
    curator = user_in_role("cur", CURATORS, is_staff=True)
    ml = user_in_role("ml", ML_STAFF, is_staff=True)
    v2 = SLMModel.objects.create(model_name="atelier-slm", version=2)
    with pytest.raises(PermissionDenied, match="Only ML staff may create"):
        model_alias_move(name="staging", model_version=v2, moved_by=curator)
    model_alias_move(name="staging", model_version=model_version, moved_by=ml)
    with pytest.raises(PermissionDenied, match="Only ML staff may move"):
        model_alias_move(name="staging", model_version=v2, moved_by=curator)

    admin = Client()
    admin.force_login(curator)
    changelist = admin.get("/admin/training/slmmodel/")
    assert changelist.status_code == 200 and b"point_alias" not in changelist.content
    admin.post(
        "/admin/training/slmmodel/",
        {"action": "point_alias", "_selected_action": [str(v2.pk)], "confirm": "1", "alias": "staging"},
    )
    admin.post(
        "/admin/training/slmmodel/",
        {"action": "point_alias", "_selected_action": [str(v2.pk)], "confirm": "1", "alias": "brand-new"},
    )
    assert ModelAlias.objects.get(name="staging").model_version == model_version
    assert not ModelAlias.objects.filter(name="brand-new").exists()
    rollback = admin.post(
        "/admin/training/modelalias/",
        {"action": "rollback", "_selected_action": [str(ModelAlias.objects.get(name="staging").pk)]},
    )
    assert rollback.status_code in (200, 302)
    assert ModelAlias.objects.get(name="staging").model_version == model_version


def test_an_alias_cannot_be_named_like_a_version_and_ids_win_over_alias_names(roles, api, model_version):
    ml = user_in_role("ml", ML_STAFF, is_staff=True)
    v2 = SLMModel.objects.create(model_name="atelier-slm", version=2)
    for name in (str(model_version.pk), model_version.pk.hex, "atelier-slm:1"):
        with pytest.raises(ValidationError):
            model_alias_move(name=name, model_version=v2, moved_by=ml)
    # An alias stored before the rule (bypassing it) still cannot take over the version's id: ids come first.
    ModelAlias.objects.create(name=str(model_version.pk), model_version=v2)
    body = api.post(URL, {"text": "a red circle", "model": str(model_version.pk)}, format="json").json()
    assert body["model_version"]["version"] == 1
    assert (
        api.post(URL, {"text": "a red circle", "model": "atelier-slm:2"}, format="json").json()[
            "model_version"
        ]["version"]
        == 2
    )


# --- 2, 3. JSON: deep nesting and non-finite numbers answer 400, and the call is still logged -------------


@pytest.mark.parametrize("url", [URL, "/api/v1/conversations/", "/api/v1/datasets/"])
@pytest.mark.parametrize("body", ["[" * 5000, '{"a":' * 5000, '{"text": "x", "count": 1e400}', "[NaN]"])
def test_deep_or_non_finite_json_answers_400_in_the_error_shape_and_is_logged(
    roles, api, model_version, url, body
):
    curator = client_for(user_in_role("cur", CURATORS))  # the datasets API is for curators
    client = curator if "datasets" in url else api
    before = ApiRequest.objects.count()
    response = client.generic("POST", url, body, content_type="application/json")
    error = _error(response, 400, "parse_error")
    assert "JSON parse error" in error["message"]
    assert ApiRequest.objects.count() == before + 1
    assert ApiRequest.objects.latest("request_time").status_code == 400


def test_1e400_is_refused_and_nothing_is_stored(api, model_version):
    response = api.generic(
        "POST", URL, '{"text": "a red circle", "temperature": 1e400}', content_type="application/json"
    )
    assert "out of range" in _error(response, 400, "parse_error")["message"]
    assert not Prompt.all_objects.exists()
    row = ApiRequest.objects.get()
    assert row.status_code == 400 and row.endpoint == URL


def test_deep_json_in_a_multipart_variables_field_is_a_field_error(api, model_version):
    response = api.post(URL, {"template": "x", "variables": "[" * 5000}, format="multipart")
    assert_field_error(response, "variables", "Not valid JSON")
    response = api.post(URL, {"template": "x", "variables": '{"a": Infinity}'}, format="multipart")
    assert_field_error(response, "variables", "Not valid JSON")


def test_the_request_log_keeps_a_row_whatever_the_payload(api, model_version):
    response = api.post(URL, {"text": "a\x00b", "seed": "1"}, format="multipart")
    assert_field_error(response, "text")
    row = ApiRequest.objects.get()
    assert row.status_code == 400 and "\x00" not in str(row.request_payload)


# --- 4. the prompt limit holds for prompts rendered from templates ----------------------------------------


def test_template_variables_cannot_make_the_prompt_longer_than_the_limit(api, model_version):
    prompt_template_create(name="badge", content="a {{ subject }} in {{ colour }}", is_public=True)
    response = api.post(
        URL, {"template": "badge", "variables": {"subject": "x" * 100_000, "colour": "red"}}, format="json"
    )
    error = assert_field_error(response, "variables", "the limit is 4,000")
    assert "subject" in error["fields"]["variables"][0]
    assert not Prompt.all_objects.exists() and not DesignOutput.objects.exists()
    ok = api.post(
        URL, {"template": "badge", "variables": {"subject": "star", "colour": "red"}}, format="json"
    )
    assert ok.status_code == 202 and ok.json()["prompt"]["text"] == "a star in red"


# --- 5. brute force: admin login lockout (django-axes), failed tokens throttled per IP --------------------


def test_admin_login_locks_a_username_and_ip_after_repeated_failures_and_an_admin_can_unlock(settings):
    UserFactory(username="boss", is_staff=True, is_superuser=True, password="right-password-123")
    client = Client(REMOTE_ADDR="198.51.100.7")

    def login(password: str, client: Client = client):
        return client.post(
            "/admin/login/?next=/admin/", {"username": "boss", "password": password}, follow=False
        )

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login("wrong").status_code == 200  # the login form again, with its error
    assert login("wrong").status_code == 429  # the last failure allowed locks the pair out
    locked = login("right-password-123")  # the right password no longer helps from here
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content and b"boss" in locked.content
    assert "_auth_user_id" not in client.session
    # Keyed by username and IP: the same user from another address is not locked out.
    elsewhere = Client(REMOTE_ADDR="203.0.113.50")
    assert login("right-password-123", elsewhere).status_code == 302
    # An admin unlocks it by deleting the attempt (Axes → Access attempts).
    attempt = AccessAttempt.objects.get(username="boss", ip_address="198.51.100.7")
    superuser = Client()
    superuser.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert superuser.get("/admin/axes/accessattempt/").status_code == 200
    superuser.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert not AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert login("right-password-123").status_code == 302


def test_wrong_tokens_are_throttled_per_ip(settings, owner, model_version):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "failed_auth": "3/minute",
        },
    }
    good = Token.objects.create(user=owner).key

    def call(token: str, ip: str = "198.51.100.9"):
        return APIClient().get("/api/v1/models/", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR=ip)

    assert [call(uuid.uuid4().hex).status_code for _ in range(3)] == [401, 401, 401]
    blocked = call(uuid.uuid4().hex)
    _error(blocked, 429, "throttled")
    assert "Retry-After" in blocked
    _error(call(good), 429, "throttled")  # the IP waits, whatever token it tries now
    assert call(good, ip="203.0.113.1").status_code == 200  # another address is not affected


# --- 6. the client IP: X-Forwarded-For only through configured proxies ------------------------------------


def test_a_client_cannot_choose_its_logged_ip(settings, api):
    api.post(
        "/api/v1/conversations/",
        {"title": "x"},
        format="json",
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
    )
    assert ApiRequest.objects.get().ip_address == "10.0.0.5"
    entry = LogEntry.objects.get_for_model(Conversation).get()
    assert entry.remote_addr == "10.0.0.5"

    settings.TRUSTED_PROXY_COUNT = 1  # one proxy in front: it appended the address it saw
    api.post(
        "/api/v1/conversations/",
        {"title": "y"},
        format="json",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert ApiRequest.objects.latest("request_time").ip_address == "203.0.113.9"


# --- 7. aggregates show only what the caller may see --------------------------------------------------------


def _rated_generation(client, body: dict, rating: int = 5) -> str:
    created = client.post(URL, body, format="json")
    assert created.status_code == 202, created.content
    run_jobs()
    assert (
        client.post(f"{URL}{created.json()['id']}/feedback/", {"rating": rating}, format="json").status_code
        == 200
    )
    return created.json()["id"]


def test_rating_aggregates_do_not_show_other_users_private_templates(
    roles, api, owner, other, model_version, fake_generator
):
    template = prompt_template_create(name="secret-plan", content="a {{ thing }}", created_by=other)
    _rated_generation(
        client_for(other),
        {"template_version": str(template.versions.get().pk), "variables": {"thing": "star"}},
    )
    prompt_template_create(name="open-badge", content="a {{ thing }}", is_public=True, created_by=other)
    _rated_generation(client_for(other), {"template": "open-badge", "variables": {"thing": "dot"}})

    def labels(client) -> list[str]:
        response = client.get("/api/v1/feedback/aggregates/?by=template_version")
        assert response.status_code == 200
        return [row["label"] for row in response.json()]

    assert labels(api) == ["open-badge v1"]
    assert labels(client_for(other)) == ["open-badge v1", "secret-plan v1"]
    # Curators and ML staff see every group in the admin.
    curator = Client()
    curator.force_login(user_in_role("cur", CURATORS, is_staff=True))
    page = curator.post(
        "/admin/feedback/feedback/",
        {"action": "aggregates", "_selected_action": [str(Feedback.objects.first().pk)]},
    )
    assert page.status_code == 200 and b"secret-plan v1" in page.content


# --- 8. one error shape, everywhere under /api/ -------------------------------------------------------------


def test_list_field_errors_are_flat_lists_of_strings(roles, api, model_version):
    error = _error(api.post(URL, {"text": "x", "images": "notafile"}, format="multipart"), 400)
    assert list(error["fields"]) == ["images"]
    curator = client_for(user_in_role("cur", CURATORS))
    error = _error(
        curator.post("/api/v1/datasets/", {"name": "s", "example_ids": ["nope"]}, format="json"), 400
    )
    assert error["fields"]["example_ids"] and "0: " in error["fields"]["example_ids"][0]


@pytest.mark.parametrize(
    "path", ["/api/v1/gener%0Aations/", "/api/%0A", "/api/v1/generations/%0A", "/api/x%0Ay/z"]
)
def test_paths_with_newlines_answer_json_404(api, path):
    # (percent-encoded: the test client, like urllib, drops raw newlines from a URL; the server sees "\n")
    _error(api.get(path), 404, "not_found")


def test_date_filters_take_any_iso_offset_without_a_server_error(api):
    # Found by Schemathesis on PostgreSQL, which refuses offsets beyond ±15:59: compared in UTC now.
    ok = api.get(URL, {"created_before": "0791-06-20T07:58:39.9+19:53", "created_after": "2020-01-01T00:00Z"})
    assert ok.status_code == 200 and ok.json()["count"] == 0
    _error(api.get(URL, {"created_after": "0001-01-01T00:00+23:00"}), 400, "validation_error")


# --- 9. roles on the API ---------------------------------------------------------------------------------


def test_a_user_in_no_role_cannot_generate_converse_or_rate(api, model_version, fake_generator):
    done = api.post(URL, {"text": "a red circle"}, format="json").json()["id"]
    run_jobs()
    nobody = client_for(UserFactory(username="nobody"))
    for url, body in (
        (URL, {"text": "a red circle"}),
        ("/api/v1/conversations/", {"title": "x"}),
        (f"{URL}{done}/feedback/", {"rating": 5}),
    ):
        error = _error(nobody.post(url, body, format="json"), 403, "permission_denied")
        assert "API consumers" in error["message"]
    assert not Conversation.objects.exists() and Prompt.objects.count() == 1 and not Feedback.objects.exists()
    assert nobody.get(URL).status_code == 200  # reading (their own, nothing) is fine


# --- 10. soft delete: ratings hide with their generation; a deleted prompt is never generated ------------


def test_ratings_of_a_deleted_generation_are_hidden(api, model_version, fake_generator):
    gid = _rated_generation(api, {"text": "a red circle"})
    fid = api.get("/api/v1/feedback/").json()["results"][0]["id"]
    soft_delete(instance=Prompt.objects.get())
    _error(api.get(f"/api/v1/feedback/{fid}/"), 404, "feedback_not_found")
    _error(api.patch(f"/api/v1/feedback/{fid}/", {"rating": 1}, format="json"), 404)
    _error(api.post(f"{URL}{gid}/feedback/", {"rating": 1}, format="json"), 404)
    assert api.get("/api/v1/feedback/").json()["count"] == 0
    assert api.get("/api/v1/feedback/aggregates/?by=model_version").json() == []


def test_a_prompt_deleted_while_queued_is_not_generated(api, model_version, fake_generator):
    gid = api.post(URL, {"text": "a red circle"}, format="json").json()["id"]
    soft_delete(instance=Prompt.objects.get())
    run_jobs()
    output = DesignOutput.objects.get(pk=gid)
    assert output.status == "failed" and output.error_message == PROMPT_DELETED
    assert not OutputImage.objects.exists() and fake_generator.calls == []
    assert Prompt.all_objects.get().status == "failed"


# --- 11. SVG text through the API ---------------------------------------------------------------------------


def test_markup_in_a_designs_title_never_reaches_the_stored_svg(api, model_version, fake_generator):
    fake_generator.make = lambda prompt, i: (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">'
        "<title>&lt;img src=x onerror=alert(document.domain)&gt;Logo</title>"
        '<circle cx="48" cy="48" r="20" fill="#e53935"/></svg>'
    )
    gid = api.post(URL, {"text": "a red circle"}, format="json").json()["id"]
    run_jobs()
    svg = api.get(f"{URL}{gid}/designs/0/svg/").content.decode()
    assert "<title>Logo</title>" in svg and "onerror" not in svg and "&lt;img" not in svg
    image = OutputImage.objects.get(file_type="svg")
    assert "removed markup-like text in <title>" in image.style_attributes["sanitiser_removed"]


def test_a_prompt_deleted_while_decoding_keeps_nothing(api, model_version, fake_generator, monkeypatch):
    from generation.services import pipeline

    prepare = pipeline._prepare

    def prepare_then_delete(work):
        prepare(work)
        soft_delete(instance=Prompt.objects.get())  # the owner deletes it while its designs are checked

    monkeypatch.setattr(pipeline, "_prepare", prepare_then_delete)
    gid = api.post(URL, {"text": "a red circle"}, format="json").json()["id"]
    run_jobs()
    output = DesignOutput.objects.get(pk=gid)
    assert output.status == "failed" and output.error_message == PROMPT_DELETED
    assert not OutputImage.objects.exists() and fake_generator.calls
    assert Prompt.all_objects.get().status == "failed"


def test_a_request_reaped_while_decoding_is_left_to_its_new_claim(
    api, model_version, fake_generator, monkeypatch
):
    from generation.services import pipeline

    prepare = pipeline._prepare

    def prepare_then_lose_the_claim(work):
        prepare(work)
        DesignOutput.objects.filter(pk=work.output.pk).update(worker_id="another-worker")

    monkeypatch.setattr(pipeline, "_prepare", prepare_then_lose_the_claim)
    gid = api.post(URL, {"text": "a red circle"}, format="json").json()["id"]
    run_jobs()
    output = DesignOutput.objects.get(pk=gid)
    assert (output.status, output.worker_id) == ("running", "another-worker")
    assert not OutputImage.objects.exists()
    assert (
        Prompt.all_objects.get().status == "running"
    )  # the mirror of a store that did not happen rolled back
