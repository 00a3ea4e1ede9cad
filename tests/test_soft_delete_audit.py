"""Deleting user content hides it; restoring brings it back; the audit trail shows both."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from generation.models import Prompt
from tests.factories import make_graph

pytestmark = pytest.mark.django_db


def test_admin_delete_soft_deletes_and_restore_brings_back_with_audit(client, superuser):
    prompt = make_graph(0, user=superuser)["prompt"]
    url = reverse("admin:generation_prompt_delete", args=[prompt.pk])
    response = client.post(url, {"post": "yes"}, HTTP_USER_AGENT="pytest-browser/1.0", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    assert not Prompt.objects.filter(pk=prompt.pk).exists()
    assert Prompt.all_objects.get(pk=prompt.pk).deleted_at is not None
    # The output still reaches its (deleted) prompt: nothing is lost.
    assert Prompt.all_objects.get(pk=prompt.pk).output.prompt.pk == prompt.pk

    changelist = reverse("admin:generation_prompt_changelist")
    assert str(prompt.pk) not in client.get(changelist).content.decode()
    assert str(prompt.pk) in client.get(changelist + "?deleted=yes").content.decode()

    response = client.post(
        changelist + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [str(prompt.pk)]},
        HTTP_USER_AGENT="pytest-browser/1.0",
    )
    assert response.status_code == 302
    assert Prompt.objects.get(pk=prompt.pk).deleted_at is None

    entries = list(LogEntry.objects.get_for_object(prompt).order_by("timestamp"))
    updates = [
        e for e in entries if e.action == LogEntry.Action.UPDATE and "deleted_at" in (e.changes_dict or {})
    ]
    assert len(updates) == 2
    deleted, restored = updates
    old, new = deleted.changes_dict["deleted_at"]
    assert old in (None, "None") and new not in (None, "None")
    old, new = restored.changes_dict["deleted_at"]
    assert old not in (None, "None") and new in (None, "None")
    assert deleted.actor == superuser
    assert deleted.remote_addr == "10.1.2.3"
    assert deleted.additional_data == {"user_agent": "pytest-browser/1.0"}


def test_audit_rows_cannot_be_changed_or_deleted_in_admin(client, superuser):
    make_graph(0, user=superuser)
    entry = LogEntry.objects.first()
    assert entry is not None
    assert client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk])).status_code == 200
    assert (
        client.post(reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert LogEntry.objects.filter(pk=entry.pk).exists()


def test_restore_that_clashes_with_a_live_name_says_so(client, superuser):
    from catalog.models import StyleGuide
    from core.services import soft_delete

    old = StyleGuide.objects.create(guide_name="Same")
    soft_delete(instance=old)
    StyleGuide.objects.create(guide_name="Same")
    changelist = reverse("admin:catalog_styleguide_changelist")
    response = client.post(
        changelist + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [str(old.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Could not restore" in response.content.decode()
    assert StyleGuide.all_objects.get(pk=old.pk).deleted_at is not None
