"""Reviewing with the keyboard in a real browser (headless Chromium, pytest-django's live server): Review
next, a score with “4”, accept with “a”, the next example served, “n” skips, “r” rejects; the other
reviewer's verdict hidden until given. Screenshots as in test_admin_flow."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from core.roles import CURATORS
from tests.browser.test_admin_flow import PASSWORD, css, login, open_page, text_of, wait_for
from tests.factories import TrainingExampleFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _press(driver: Any, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def _prompt(driver: Any) -> str:
    return text_of(driver, "#review-prompt")


def test_review_with_the_keyboard(live_server: Any, browser: Any, shot: Any, roles: None) -> None:
    from training.models import Review, TrainingExample
    from training.services.reviews import review_policy_create, review_submit

    ann = UserFactory(username="ann", is_staff=True)
    ann.groups.add(Group.objects.get(name=CURATORS))
    bob = UserFactory(username="bob", is_staff=True)
    policy = review_policy_create(name="pairs", reviews_needed=2)
    first, second, third = (
        TrainingExampleFactory(prompt=f"icon number {n}", review_policy=policy) for n in (1, 2, 3)
    )
    review_submit(example=first, reviewer=bob, verdict="reject", comment="BOB-SAYS-NO")
    d, base = browser, live_server.url
    assert PASSWORD
    login(d, base, "ann")
    open_page(d, f"{base}/admin/training/review/queue/?queue={policy.pk}")
    wait_for(d, lambda d: _prompt(d) == "icon number 1", what="the first example served")
    assert "BOB-SAYS-NO" not in d.page_source and "hidden until you give yours" in text_of(
        d, "#review-verdicts"
    )
    wait_for(
        d, lambda d: css(d, "#review-image").get_attribute("naturalWidth") == "512", what="the large PNG"
    )
    shot("16-review-queue")
    _press(d, "4")
    assert css(d, 'input[name="score"][value="4"]').is_selected()
    _press(d, "a")
    wait_for(d, lambda d: _prompt(d) == "icon number 2", what="the next example after accepting")
    review = Review.objects.get(example=first, reviewer=ann)
    assert (review.verdict, review.score) == ("accept", 4)
    _press(d, "n")
    wait_for(d, lambda d: _prompt(d) == "icon number 3", what="the next example after skipping")
    _press(d, "r")
    wait_for(d, lambda d: css(d, "#queue-empty"), what="the queue emptied")
    assert Review.objects.get(example=third, reviewer=ann).verdict == "reject"
    assert not Review.objects.filter(example=second, reviewer=ann).exists()
    open_page(d, f"{base}/admin/training/review/queue/{first.pk}/")
    assert "BOB-SAYS-NO" in text_of(d, "#review-verdicts")  # given hers, she sees his
    assert TrainingExample.objects.get(pk=first.pk).status == "draft"  # accept + reject under majority
