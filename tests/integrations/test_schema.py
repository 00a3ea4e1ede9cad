"""The OpenAPI schema's `webhooks` section documents every event, review.settled's summary included."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core import events

pytestmark = pytest.mark.django_db


def test_every_event_is_in_the_schemas_webhooks_section() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    assert set(schema["webhooks"]) == set(events.EVENT_TYPES)
    settled = schema["components"]["schemas"]["ReviewSettledSummary"]["properties"]
    assert {"status", "state", "reviews", "by", "quality_score"} <= set(settled)
