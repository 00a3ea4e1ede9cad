"""The training runs and models changelists fit a 1280 px window with the admin's sidebar open: no
horizontal scroll, no word broken inside (`production` stays whole), every column shown."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_admin_flow import login
from tests.factories import UserFactory
from training.models import Dataset, ModelAlias, SLMModel, TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rows() -> None:
    user = UserFactory(username="maximilian.requester", is_staff=True, is_superuser=True)
    dataset = Dataset.objects.create(name="lucide-icons-snapshot", version=3, status="ready")
    base = SLMModel.objects.create(model_name="atelier-slm-lucide", version=1, dataset=dataset)
    for version in (2, 3):
        model = SLMModel.objects.create(
            model_name="atelier-slm-lucide",
            version=version,
            architecture="gpt2",
            dataset=dataset,
            base_model=base,
            parameter_count=12_345_678,
            compute_type="float32",
        )
        TrainingRun.objects.create(
            dataset=dataset,
            model_name="atelier-slm-lucide",
            status="completed",
            progress=1.0,
            step=123_456,
            loss=0.123456789,
            tokens_per_second=45_678.9,
            result_model=model,
            requested_by=user,
        )
    ModelAlias.objects.create(name="production", model_version=model)
    ModelAlias.objects.create(name="staging", model_version=model)


def test_runs_and_models_changelists_fit_1280_px_with_the_sidebar_open(
    browser: Any, live_server: Any, rows: None
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    # Logged in before the next page is asked for: navigating away mid-login loses its cookie.
    login(d, live_server.url, "maximilian.requester")
    for path in ("/admin/training/trainingrun/", "/admin/training/slmmodel/"):
        d.get(live_server.url + path)
        assert d.find_element(By.ID, "nav-sidebar").is_displayed(), "the sidebar is open"
        assert d.execute_script("return window.innerWidth") == 1280
        width = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path}: {width[0]} px wide in a {width[1]} px window"
        # No word broken inside a cell: each cell's text fits in as few lines as it has spaces + 1.
        broken = d.execute_script(
            """
            const out = [];
            for (const cell of document.querySelectorAll('#result_list td, #result_list th')) {
              for (const word of cell.innerText.split(/[\\s\\-\\/]+/).filter(Boolean)) {
                const range = document.createRange(); const walker = document.createTreeWalker(cell, 4);
                let node; while ((node = walker.nextNode())) {
                  const at = node.data.indexOf(word);
                  if (at < 0) continue;
                  range.setStart(node, at); range.setEnd(node, at + word.length);
                  if (range.getClientRects().length > 1) out.push(word);
                  break;
                }
              }
            }
            return out;
            """
        )
        assert broken == [], f"{path}: words broken across lines: {broken}"
    text = d.find_element(By.ID, "result_list").text
    assert "production" in text and "staging" in text
