"""The admin in a real browser, one curator/ML-staff journey end to end.

Headless Chromium drives pytest-django's live server; the stub broker's worker (same process) runs the
imports, the snapshot export and the training the admin queues. Each step saves a screenshot in the
test's temporary folder; `make screenshots` also refreshes the README's copies in docs/screenshots/.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from core.roles import API_CONSUMERS, CURATORS, ML_STAFF
from tests.factories import UserFactory
from tests.shared_fixtures import tiny_params

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
ICONS = REPO.parent / "shared" / "data" / "lucide" / "icons"  # synthetic icons stand in where it is absent
ICON_COUNT = 20
PASSWORD = "pw-for-tests-123"  # tests.factories.UserFactory's
WAIT_S = 90
TRAIN_WAIT_S = 240
# Tiny and bounded by wall-clock time, so the progress bar visibly moves for ~10 s whatever the CPU.
TRAIN_FORM = {  # the form has no num_threads field
    k: v
    for k, v in tiny_params(budget_seconds=10, max_steps=0, checkpoint_every=200).items()
    if k != "num_threads"
}
CIRCLE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">'
    '<circle cx="48" cy="48" r="{r}" fill="#e53935"/></svg>'
)


@dataclass
class _Sample:
    text: str
    tokens: int
    finished: bool = True


class _FakeGenerator:
    """Stands in for a trained Generator: valid SVG, so the design can be rated and promoted."""

    def generate(self, prompts: Any, n: int = 1, **_: Any) -> list[list[_Sample]]:
        return [[_Sample(CIRCLE.format(r=12 + 4 * i), 20) for i in range(n)] for _ in prompts]


def icon_zip(path: Path, count: int = ICON_COUNT) -> Path:
    """`count` icons (SVG + JSON sidecar with tags and categories) as one ZIP, the admin's icon-folder
    upload: the first Lucide icons from the shared data folder, or synthetic ones where it is absent."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        if ICONS.is_dir() and len(svgs := sorted(ICONS.glob("*.svg"))[:count]) == count:
            for svg in svgs:
                archive.write(svg, f"lucide/{svg.name}")
                if svg.with_suffix(".json").exists():
                    archive.write(svg.with_suffix(".json"), f"lucide/{svg.stem}.json")
        else:
            from slm.synthetic import generate_corpus

            for i, example in enumerate(generate_corpus(count, seed=21, unique=True)):
                words = example.prompt.split()
                archive.writestr(f"icons/icon-{i:02d}.svg", example.svg)
                sidecar = {"tags": words[:4], "categories": ["synthetic"]}
                archive.writestr(f"icons/icon-{i:02d}.json", json.dumps(sidecar))
    path.write_bytes(buf.getvalue())
    return path


# --- browser helpers -----------------------------------------------------------------------------------


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout: float = WAIT_S, what: str = "") -> Any:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # Any WebDriverException (no such element, stale element, a page mid-refresh) just means "not yet".
    return WebDriverWait(
        driver, timeout, poll_frequency=0.25, ignored_exceptions=(WebDriverException,)
    ).until(condition, what)


def css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def text_of(driver: Any, selector: str) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete", what=url)


def submit(driver: Any, selector: str = "input[type=submit].default") -> None:
    """Click a submit control and wait for the next page to replace this one."""
    old = css(driver, "html")
    css(driver, selector).click()
    wait_for(driver, lambda d: old.id != css(d, "html").id, what=f"page after {selector}")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def fill(driver: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field = css(driver, f"#id_{name}")
        field.clear()
        field.send_keys(str(value))


def success_message(driver: Any) -> str:
    return wait_for(driver, lambda d: text_of(d, "ul.messagelist li.success"), what="a success message")


def login(driver: Any, base: str, username: str) -> None:
    open_page(driver, f"{base}/admin/login/?next=/admin/")
    fill(driver, {"username": username, "password": PASSWORD})
    submit(driver, "#login-form input[type=submit]")
    wait_for(driver, lambda d: username in text_of(d, "#user-tools").lower(), what=f"{username} logged in")


def logout(driver: Any) -> None:
    submit(driver, "#logout-form button[type=submit]")


def run_action(driver: Any, action: str, *, select_all: bool = True) -> None:
    """On a changelist: tick every row (the header checkbox) or the first row, choose the action, Go."""
    from selenium.webdriver.support.ui import Select

    if select_all:
        css(driver, "#action-toggle").click()
    else:
        css(driver, "input.action-select").click()
    wait_for(driver, lambda d: css(d, "input.action-select").is_selected(), what="rows selected")
    Select(css(driver, "select[name=action]")).select_by_value(action)
    submit(driver, "button[name=index]")


def reload_until(driver: Any, url: str, ready: Callable[[Any], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        open_page(driver, url)
        if ready(driver):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {text_of(driver, '#content')[:2000]}")
        time.sleep(1.0)


# --- fixtures ------------------------------------------------------------------------------------------


def _member(username: str, group: str) -> Any:
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def people(roles: None) -> dict[str, Any]:
    from rest_framework.authtoken.models import Token

    consumer = UserFactory(username="consumer")
    consumer.groups.add(Group.objects.get(name=API_CONSUMERS))
    return {
        "curator": _member("curator", CURATORS),
        "ml": _member("mlstaff", ML_STAFF),
        "consumer": consumer,
        "token": Token.objects.create(user=consumer).key,
    }


# --- the journey ---------------------------------------------------------------------------------------


def test_curate_train_promote_generate_rate_and_feed_back(
    browser: Any, shot: Any, live_server: Any, people: dict[str, Any], draining_worker: Any, tmp_path: Path
) -> None:
    d, base = browser, live_server.url
    _curator_imports_icons(d, base, shot, tmp_path)
    dataset = _approve_and_snapshot(d, base, shot)
    model = _train_and_watch_progress(d, base, shot, dataset)
    _point_production_at(d, base, shot, model)
    api, design = _generate_through_the_api(base, people)
    _rate_and_promote(d, base, shot, api, design, model)


def _curator_imports_icons(d: Any, base: str, shot: Any, tmp_path: Path) -> None:
    """Steps 1-3: the curator logs in, dry-runs an icon ZIP, reads its report and commits it."""
    from training.models import ImportBatch, TrainingExample

    # 1. A curator logs in through the real form.
    open_page(d, f"{base}/admin/login/?next=/admin/")
    d.execute_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")  # wider pages
    fill(d, {"username": "curator", "password": PASSWORD})
    shot("01-login")
    submit(d, "#login-form input[type=submit]")
    wait_for(d, lambda d: "curator" in text_of(d, "#user-tools").lower(), what="curator logged in")

    # 2. Upload a ZIP of icons (SVG + JSON sidecars) as a dry run; read its report.
    archive = icon_zip(tmp_path / "icons.zip")
    open_page(d, f"{base}/admin/training/importbatch/upload/")
    css(d, "#id_file").send_keys(str(archive))
    assert css(d, "#id_dry_run").is_selected(), "a dry run is the default"
    shot("02-import-upload")
    submit(d, "input[type=submit][value='Upload and check']")
    assert "queued" in success_message(d)
    # The batch page refreshes itself while the job runs; the commit button appears when the dry run is done.
    wait_for(d, lambda d: css(d, "input[value='Commit this import']"), what="the dry run to finish")
    # The report is rendered HTML: its visible text has no markup in it.
    report = text_of(d, ".field-report_summary")
    assert "<p>" not in report and "<b>" not in report, report
    assert f"{ICON_COUNT} read, {ICON_COUNT} valid, 0 invalid" in report, report
    assert f"{ICON_COUNT} would create" in report, report
    assert TrainingExample.objects.count() == 0, "a dry run stores nothing"
    shot("03-dry-run-report")

    # 3. Commit it; the new batch's page shows what was created.
    submit(d, "input[value='Commit this import']")
    assert "queued" in success_message(d)
    wait_for(
        d,
        lambda d: f"{ICON_COUNT} created" in re.sub(r"<[^>]+>", "", text_of(d, ".field-report_summary")),
        what="the import",
    )
    assert ImportBatch.objects.filter(dry_run=False, status="completed", rows_created=ICON_COUNT).exists()
    shot("04-import-committed")


def _approve_and_snapshot(d: Any, base: str, shot: Any) -> Any:
    """Steps 4-5: every example approved, then frozen into a snapshot whose export finishes."""
    from training.models import Dataset, TrainingExample

    # 4. Approve every example from the changelist.
    open_page(d, f"{base}/admin/training/trainingexample/")
    run_action(d, "approve")
    assert f"{ICON_COUNT} example(s) reviewed: accept ({ICON_COUNT} now approved)" in success_message(d)
    assert TrainingExample.objects.filter(status="approved").count() == ICON_COUNT
    shot("05-examples-approved")

    # 5. Freeze them into a snapshot through the intermediate form; wait for its export.
    run_action(d, "snapshot")
    fill(d, {"name": "icon-set", "seed": 7, "validation": 0.1, "test": 0.1})
    shot("06-snapshot-form")
    submit(d, "input[type=submit][value='Freeze snapshot']")
    assert f"frozen with {ICON_COUNT} examples" in success_message(d)
    dataset_url = d.current_url
    reload_until(
        d,
        dataset_url,
        lambda d: text_of(d, ".field-status .readonly").strip().lower() == "ready",
        WAIT_S,
        "the snapshot export",
    )
    shot("07-snapshot-ready")
    dataset = Dataset.objects.get(name="icon-set")
    assert dataset.status == "ready" and dataset.record_count == ICON_COUNT
    return dataset


def _train_and_watch_progress(d: Any, base: str, shot: Any, dataset: Any) -> Any:
    """Step 6: ML staff train from the snapshot; the progress bar only moves forward, to the end."""
    from training.models import TrainingRun

    # 6. ML staff start a short training run from the snapshot and watch its progress bar move.
    logout(d)
    login(d, base, "mlstaff")
    open_page(d, f"{base}/admin/training/dataset/")
    run_action(d, "train", select_all=False)
    fill(d, TRAIN_FORM)
    shot("08-train-form")
    submit(d, "input[type=submit][value='Start training']")
    assert "queued" in success_message(d)
    run = TrainingRun.objects.get(dataset=dataset)
    seen: list[float] = []
    midway_shot = False
    deadline = time.monotonic() + TRAIN_WAIT_S
    while True:
        # Status first, then the bar: both come from one poll, so a terminal status means the bar is final.
        status = text_of(d, "#run-status").strip()
        value = float(css(d, "#run-progress").get_property("value"))
        if not seen or value != seen[-1]:
            seen.append(value)
        if 0 < value < 1 and not midway_shot and len(text_of(d, "#run-events")) > 0:
            shot("09-training-progress")
            midway_shot = True
        if status in ("completed", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"training did not finish: status {status}, progress {seen}"
        time.sleep(0.5)
    run.refresh_from_db()
    assert status == "completed", (run.error_message, list(run.events.values_list("message", flat=True)))
    assert seen == sorted(seen), f"the progress bar went backwards: {seen}"
    assert seen[0] < 1.0 and seen[-1] == 1.0, seen
    assert any(0 < v < 1 for v in seen), f"the progress bar never showed a value in between: {seen}"
    wait_for(d, lambda d: "Registered" in text_of(d, "#run-events"), what="the events to show the result")
    shot("10-training-completed")
    model = run.result_model
    assert model is not None and model.storage_path
    return model


def _point_production_at(d: Any, base: str, shot: Any, model: Any) -> None:
    """Step 7: production moves to the new version (with a reason: it has not learned its set)."""
    from training.models import SLMModel

    # 7. Point production at the new version.
    open_page(d, f"{base}/admin/training/slmmodel/")
    run_action(d, "point_alias", select_all=False)
    # Trained for seconds, it has not learned its set: production moves to it only with a reason.
    fill(d, {"alias": "production", "note": "first icon model", "override_reason": "a test model"})
    submit(d, "input[type=submit][value='Move alias']")
    assert f"production now points at {model}" in success_message(d).lower()
    wait_for(d, lambda d: "production" in text_of(d, "#result_list"), what="the alias column")
    shot("11-production-alias")
    assert SLMModel.objects.get(aliases__name="production") == model


def _generate_through_the_api(base: str, people: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Step 8: the API consumer generates with production; a stand-in generator gives a design to rate."""
    import requests

    from generation import engine

    # 8. An API consumer generates with production. The model trained for seconds: its own request must
    # end completed or failed with a reason; a stand-in generator then gives a design to rate.
    api = requests.Session()
    api.trust_env = False  # loopback only, never a proxy
    api.headers["Authorization"] = f"Token {people['token']}"
    real = api.post(
        f"{base}/api/v1/generations/?wait=60",
        json={"text": "activity icon", "model": "production"},
        timeout=90,
    )
    assert real.status_code in (200, 202), real.text
    body = real.json()
    assert body["status"] in ("completed", "failed"), body
    if body["status"] == "failed":
        assert body.get("error"), body
    original = engine.get_generator
    engine.get_generator = lambda model: _FakeGenerator()
    try:
        made = api.post(f"{base}/api/v1/generations/?wait=60", json={"text": "a red circle"}, timeout=90)
    finally:
        engine.get_generator = original
    assert made.status_code == 200, made.text
    design = made.json()
    assert design["status"] == "completed" and design["designs"], design
    png = api.get(design["designs"][0]["png_url"], timeout=30)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    return api, design


def _rate_and_promote(d: Any, base: str, shot: Any, api: Any, design: dict[str, Any], model: Any) -> None:
    """Step 9: the consumer rates the design; a curator promotes it into the training data."""
    from feedback.models import Feedback, Promotion

    # 9. The consumer rates it; a curator adds the rated design to the training data from the admin.
    rated = api.post(f"{base}/api/v1/generations/{design['id']}/feedback/", json={"rating": 5}, timeout=30)
    assert rated.status_code == 200, rated.text
    assert Feedback.objects.filter(output_id=design["id"], rating=5).exists()
    logout(d)
    login(d, base, "curator")
    open_page(d, f"{base}/admin/feedback/feedback/")
    run_action(d, "promote_approved")
    assert "1 design(s) added to the training data as approved" in success_message(d)
    shot("12-feedback-promoted")
    promotion = Promotion.objects.get(output_id=design["id"])
    assert promotion.example.status == "approved" and promotion.model_version == model


def test_import_report_is_rendered_html_not_escaped_markup() -> None:
    from django.contrib import admin
    from django.utils.safestring import SafeData

    from training.models import ImportBatch

    batch = ImportBatch(
        source_name="x.jsonl",
        format="jsonl",
        dry_run=True,
        report={"counts": {"read": 1, "valid": 1, "invalid": 0, "duplicates": 0, "created": 1, "updated": 0}},
    )
    html = admin.site._registry[ImportBatch].report_summary(batch)
    assert isinstance(html, SafeData), "the report would be shown as escaped markup"
