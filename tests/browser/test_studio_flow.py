"""The dashboard and the playground in a real browser (headless Chromium, pytest-django's live server, the
stub broker's worker in the same process): the dashboard's live progress bar moves; a curator generates
from two model versions side by side, rates one, promotes a design, and opens its design output page; the
main changelists fit 1280 px without scrolling sideways. Screenshots as in test_admin_flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.roles import CURATORS
from tests.browser.test_admin_flow import css, login, open_page, success_message, text_of, wait_for
from tests.factories import UserFactory, make_graph

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHAPES = {
    1: '<circle cx="48" cy="48" r="{r}" fill="#e53935"/>',
    2: '<rect x="{o}" y="{o}" width="{s}" height="{s}" fill="#1e88e5"/>',
}
# Changelists a curator or ML lead reads every day: none may scroll sideways at 1280 px.
MAIN_CHANGELISTS = (
    "training/trainingexample",
    "training/importbatch",
    "training/dataset",
    "training/trainingrun",
    "training/slmmodel",
    "generation/designoutput",
    "generation/outputimage",
    "generation/prompt",
    "generation/apirequest",
    "feedback/feedback",
    "catalog/styleguide",
)


class _Sample:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.finished = text, len(text) // 4, True


class _VersionGenerator:
    """Stands in for a trained model: version 1 draws red circles, version 2 blue squares."""

    def __init__(self, version: int) -> None:
        self.version = version

    def generate(self, prompts: Any, n: int = 1, **_: Any) -> list[list[_Sample]]:
        shape = SHAPES[1 if self.version == 1 else 2]
        return [
            [
                _Sample(
                    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">'
                    + shape.format(r=14 + 6 * i, o=30 - 6 * i, s=36 + 12 * i)
                    + "</svg>"
                )
                for i in range(n)
            ]
            for _ in prompts
        ]


def click_and_wait(driver: Any, element: Any) -> None:
    """Click a control that loads a new page, and wait until it has replaced this one."""
    old = css(driver, "html")
    element.click()
    wait_for(driver, lambda d: old.id != css(d, "html").id, what="the next page")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def _scrolls_sideways(driver: Any) -> int:
    return driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_dashboard_and_playground_side_by_side_rate_promote(
    browser: Any,
    shot: Any,
    live_server: Any,
    roles: None,
    draining_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    curator, v1, v2, run = _two_versions_and_running_jobs(monkeypatch)
    d, base = browser, live_server.url
    _dashboard_follows_the_run(d, base, run)
    columns, outputs = _playground_side_by_side(d, shot, curator, v1, v2)
    _rate_and_promote_in_place(d, curator, columns, outputs)
    _design_output_page(d, shot, outputs)
    _home_again_and_changelists_fit(d, base, shot)


def _two_versions_and_running_jobs(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Any, Any]:
    """A curator, production (v1) and staging (v2), a running training run and import, and a stand-in
    generator that says which version drew each design."""
    from generation import engine
    from training.models import ImportBatch, ModelAlias, SLMModel, TrainingRun

    monkeypatch.setattr(engine, "get_generator", lambda model: _VersionGenerator(model.version))
    curator = UserFactory(username="curator", is_staff=True)
    curator.groups.add(Group.objects.get(name=CURATORS))
    graph = make_graph(0, user=curator)  # a little of everything, so pages and changelists have rows
    v1 = SLMModel.objects.create(
        model_name="atelier-slm",
        version=1,
        storage_path="models/atelier-slm/1",
        metrics={"adherence_rate": 0.97, "valid_nonblank_rate": 1.0, "val_loss": 0.412},
    )
    v2 = SLMModel.objects.create(model_name="atelier-slm", version=2, storage_path="models/atelier-slm/2")
    ModelAlias.objects.create(name="production", model_version=v1)
    ModelAlias.objects.create(name="staging", model_version=v2)
    # Held by a live worker elsewhere: a heartbeat young for the whole test, so the reaper never hands
    # them to this test's worker (which would run a real training run and import on the graph's rows).
    alive = timezone.now() + timedelta(hours=1)
    run = TrainingRun.objects.create(
        dataset=graph["dataset"], status="running", progress=0.3, step=30, total_steps=100, heartbeat_at=alive
    )
    ImportBatch.objects.create(
        source_name="icons.zip", format="zip", status="running", progress=0.6, heartbeat_at=alive
    )
    return curator, v1, v2, run


def _dashboard_follows_the_run(d: Any, base: str, run: Any) -> None:
    from training.models import TrainingRun

    # 1. The curator's home page is the dashboard; its progress bar follows the run as it moves.
    open_page(d, f"{base}/admin/login/")
    d.execute_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")  # wider screenshots
    login(d, base, "curator")
    open_page(d, f"{base}/admin/")
    assert "production" in text_of(d, "#dash-models") and "atelier-slm v1" in text_of(d, "#dash-models")
    assert "adherence 97%" in text_of(d, "#dash-models")
    bar = f'#dash-jobs li[data-id="{run.pk}"] progress'
    assert abs(float(css(d, bar).get_property("value")) - 0.3) < 1e-6
    TrainingRun.objects.filter(pk=run.pk).update(progress=0.65, step=65)
    wait_for(d, lambda d: abs(float(css(d, bar).get_property("value")) - 0.65) < 1e-6, what="the live bar")
    assert "step 65 / 100" in text_of(d, f'#dash-jobs li[data-id="{run.pk}"]')
    wait_for(
        d,
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('#dash-designs img')].every(i => i.complete && i.naturalWidth > 0)"
        ),
        what="the latest designs' thumbnails",
    )
    assert _scrolls_sideways(d) <= 0, "the dashboard scrolls sideways at 1280 px"


def _playground_side_by_side(
    d: Any, shot: Any, curator: Any, v1: Any, v2: Any
) -> tuple[list[Any], list[Any]]:
    from generation.models import DesignOutput

    # 2. The playground: one prompt, production (v1) beside v2, two designs each.
    click_and_wait(d, css(d, "#playground-link"))
    wait_for(d, lambda d: css(d, "#playground-form"), what="the playground")
    from selenium.webdriver.support.ui import Select

    css(d, "#id_text").send_keys("a bold mark at the centre")
    Select(css(d, "#id_model_a")).select_by_value("production")
    Select(css(d, "#id_model_b")).select_by_value(str(v2.pk))
    for name, value in (("count", 2), ("seed", 11), ("temperature", 0.8)):
        css(d, f"#id_{name}").clear()
        css(d, f"#id_{name}").send_keys(str(value))
    click_and_wait(d, css(d, "#generate"))
    wait_for(
        d,
        lambda d: len(d.find_elements("css selector", '.playground-column[data-status="completed"]')) == 2,
        what="both sides to complete",
    )
    wait_for(
        d,
        lambda d: d.execute_script(
            "const imgs = [...document.querySelectorAll('.playground-design img')];"
            "return imgs.length === 4 && imgs.every(i => i.complete && i.naturalWidth > 0)"
        ),
        what="four rendered designs",
    )
    columns = d.find_elements("css selector", ".playground-column")
    assert "atelier-slm v1" in columns[0].text and "atelier-slm v2" in columns[1].text
    assert "seed 11" in columns[0].text and "seed 11" in columns[1].text
    assert not d.find_elements("css selector", ".playground-design svg"), "designs are PNGs, never inline SVG"
    d.execute_script("window.scrollTo(0, document.getElementById('playground-results').offsetTop - 330)")
    shot("14-playground")
    outputs = list(
        DesignOutput.objects.filter(prompt__user=curator, prompt__text_content__startswith="a bold").order_by(
            "created_at"
        )
    )
    assert [o.model_version for o in outputs] == [v1, v2]
    return columns, outputs


def _rate_and_promote_in_place(d: Any, curator: Any, columns: list[Any], outputs: list[Any]) -> None:
    from feedback.models import Feedback, Promotion

    # 3. Rate the v2 side 4★, in place.
    click_and_wait(d, columns[1].find_element("css selector", "button.rate-4"))
    assert "4★" in success_message(d)
    assert Feedback.objects.get(output=outputs[1], user=curator).rating == 4
    assert "your rating: 4★" in text_of(d, f'.playground-column[data-output="{outputs[1].pk}"]')

    # 4. Promote v1's first design into the training data, approved.
    first = css(d, f'.playground-column[data-output="{outputs[0].pk}"] .playground-design[data-seq="0"]')
    click_and_wait(d, first.find_element("css selector", "button.promote-approved"))
    assert "added to the training data as approved" in success_message(d)
    promotion = Promotion.objects.get(output=outputs[0])
    assert promotion.sequence_order == 0 and promotion.example.status == "approved"
    assert "In the training data" in text_of(
        d, f'.playground-column[data-output="{outputs[0].pk}"] .playground-design[data-seq="0"]'
    )


def _design_output_page(d: Any, shot: Any, outputs: list[Any]) -> None:
    # 5. The design output page: every design as a PNG, readable metadata, links to what it came from.
    column = css(d, f'.playground-column[data-output="{outputs[0].pk}"]')
    click_and_wait(d, column.find_element("link text", "Design output"))
    wait_for(d, lambda d: css(d, ".field-designs .design-gallery"), what="the design output page")
    wait_for(
        d,
        lambda d: d.execute_script(
            "const imgs = [...document.querySelectorAll('.design-gallery img')];"
            "return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0)"
        ),
        what="the page's designs",
    )
    assert css(d, ".field-design_metadata .json-tree .json-key")
    links = [a.text.lower() for a in d.find_elements("css selector", "a.design-link")]
    assert links[:1] == ["prompt"] and "model version" in links and "ratings" in links, links
    d.execute_script("window.scrollTo(0, 0)")
    shot("15-design-output")


def _home_again_and_changelists_fit(d: Any, base: str, shot: Any) -> None:
    # 6. Back home: the new designs lead the grid, v2's rating is charted (the README's screenshot).
    open_page(d, f"{base}/admin/")
    wait_for(
        d,
        lambda d: d.execute_script(
            "const imgs = [...document.querySelectorAll('#dash-designs img')];"
            "return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0)"
        ),
        what="three designs on the dashboard",
    )
    assert "atelier-slm v2: 4.00" in text_of(d, "#chart-ratings")
    shot("13-dashboard")

    # 7. The main changelists fit 1280 px, with the navigation sidebar open (as it is by default).
    d.execute_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'true')")
    wide = {}
    for path in MAIN_CHANGELISTS:
        open_page(d, f"{base}/admin/{path}/")
        if d.find_elements("css selector", "#result_list") and (overflow := _scrolls_sideways(d)) > 0:
            wide[path] = overflow
    assert not wide, f"changelists scroll sideways at 1280 px (px too wide): {wide}"
