"""Generation hands every user's requests for a model to that model's one scheduler: requests of
different users that arrive while the model decodes share its next step."""

from __future__ import annotations

import threading
import time

import pytest

from core.roles import API_CONSUMERS
from generation import engine
from generation.models import DesignOutput
from tests.api.conftest import client_for
from tests.shared_fixtures import user_in_role

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/generations/"


def test_requests_of_different_users_share_the_models_next_decode_step(model_version, fake_generator):
    alice, bob = user_in_role("alice", API_CONSUMERS), user_in_role("bob", API_CONSUMERS)
    first_in_model, release = threading.Event(), threading.Event()
    make = fake_generator.make

    def slow_first(prompt: str, i: int) -> str:
        if not first_in_model.is_set():
            first_in_model.set()
            assert release.wait(10)
        return make(prompt, i)

    fake_generator.make = slow_first
    posts = [(alice, "a red circle for alice"), (alice, "a blue square for alice"), (bob, "a star for bob")]
    ids = [
        client_for(user).post(URL, {"text": text, "seed": i}, format="json").json()["id"]
        for i, (user, text) in enumerate(posts)
    ]
    threads = [threading.Thread(target=_run_actor, args=(pk,)) for pk in ids]
    threads[0].start()
    assert first_in_model.wait(10)
    for t in threads[1:]:
        t.start()
    waiting = engine.get_scheduler(model_version)._waiting
    deadline = time.monotonic() + 10
    while len(waiting) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(waiting) == 2, "the other requests never reached the model's scheduler"
    release.set()
    for t in threads:
        t.join(10)
    second_step = fake_generator.calls[1]["prompts"]
    assert sorted(second_step) == ["a blue square for alice", "a star for bob"]  # alice's and bob's
    outputs = {str(o.pk): o for o in DesignOutput.objects.select_related("prompt__user")}
    assert {outputs[pk].status for pk in ids} == {"completed"}
    assert outputs[ids[1]].design_metadata["batch"]["size"] == 2
    assert outputs[ids[2]].design_metadata["batch"]["size"] == 2
    assert outputs[ids[1]].prompt.user != outputs[ids[2]].prompt.user


def _run_actor(pk: str) -> None:
    from django.db import connection

    from generation.tasks import generate

    try:
        generate(pk)
    finally:
        connection.close()
