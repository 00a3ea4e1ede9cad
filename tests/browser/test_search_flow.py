"""A curator searches examples by words in the changelist (best match first), opens one, sees its similar
panel, and searches by picture from it: in a real browser. Screenshots: 17-19-search-*.png."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.browser.test_admin_flow import login
from tests.factories import UserFactory
from tests.shared_fixtures import MDI_ICONS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
MDI = MDI_ICONS
NAMES = ("arrow-down-circle", "arrow-down", "arrow-down-bold", "home", "home-outline", "cog")


@pytest.fixture
def examples(settings, tmp_path) -> dict[str, Any]:
    from core.jobs.lifecycle import job_claim
    from core.svg import clean_svg
    from training.models import SimilarityIndexBuild, TrainingExample
    from training.services.similarity import similarity_index_build_execute

    settings.WORK_DIR = tmp_path
    UserFactory(username="search.curator", is_staff=True, is_superuser=True)
    made = {
        name: TrainingExample.objects.create(
            prompt=f"{name.replace('-', ' ')} icon",
            svg_content=clean_svg((MDI / f"{name}.svg").read_text()).svg,
            external_id=name,
            content_hash=hashlib.sha256(name.encode()).hexdigest(),
        )
        for name in NAMES
    }
    build = SimilarityIndexBuild.objects.create()
    similarity_index_build_execute(build=job_claim(SimilarityIndexBuild, build.pk))
    return made


def test_search_by_words_then_the_similar_panel_then_by_picture(
    browser: Any, shot: Any, live_server: Any, examples: dict[str, Any]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    # Logged in before the next page is asked for: navigating away mid-login loses its cookie.
    login(d, live_server.url, "search.curator")
    d.get(f"{live_server.url}/admin/training/trainingexample/")
    box = d.find_element(By.ID, "searchbar")
    box.send_keys("arrow down")
    box.submit()
    WebDriverWait(d, 30).until(lambda d: "q=arrow" in d.current_url and d.find_elements(By.ID, "result_list"))
    rows = [r.text for r in d.find_elements(By.CSS_SELECTOR, "#result_list tbody tr td.field-short_prompt")]
    shot("17-search-words")
    assert rows and rows[0] == "arrow down icon", rows
    assert len(rows) == 3 and not any("home" in r for r in rows)

    d.get(f"{live_server.url}/admin/training/trainingexample/{examples['home'].pk}/change/")
    panel = d.find_element(By.ID, "similar-panel")
    items = [i.text for i in panel.find_elements(By.CSS_SELECTOR, ".similar-item")]
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", panel)  # the panel in the shot
    shot("18-search-similar-panel")
    assert items and items[0].startswith("home-outline"), items
    # Every picture in the panel is a rendered PNG that loaded.
    assert all(
        d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
        for img in panel.find_elements(By.TAG_NAME, "img")
    )
    panel.find_element(By.LINK_TEXT, "More like this").click()
    WebDriverWait(d, 30).until(
        lambda d: "picture" in d.current_url and d.find_elements(By.ID, "similar-panel")
    )
    assert "Search examples by picture" in d.title
    found = [i.text for i in d.find_elements(By.CSS_SELECTOR, "#similar-panel .similar-item")]
    shot("19-search-by-picture")
    assert found and found[0].startswith("home-outline")
