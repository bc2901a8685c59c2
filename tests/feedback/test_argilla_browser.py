"""An annotator labels a pair, and writes a demonstration, in Argilla's web UI (headless Debian
chromium); pull finds them."""

from __future__ import annotations

import shutil

import pytest
from sqlmodel import Session, select

from accord.feedback.argilla import pull_judgments, push_pairs
from accord.feedback.argilla.schema import to_canonical
from accord.store.models import ArgillaRecord, Judgment

from .conftest import PASSWORD, seed_pairs

pytestmark = [pytest.mark.argilla, pytest.mark.browser, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield instance
        instance.close()


def test_annotator_labels_in_the_web_ui(
    store, connection, make_annotator, unique_name, argilla_server, browser, artifacts_dir
):
    (pair_id,) = seed_pairs(store, 1, tag="ui")
    push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    annotator = make_annotator(f"{unique_name}-ui", unique_name)

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{argilla_server.url}/sign-in")
    page.fill("input[name=Username]", annotator.username)
    page.fill("input[name=Password]", PASSWORD)
    page.click("button[type=submit]")
    page.click(f"a.dataset-card:has-text('{unique_name}')")
    page.wait_for_selector("label[for=preference_b]")
    page.click("label[for=preference_b]")
    page.screenshot(path=str(artifacts_dir / "argilla-annotation.png"), full_page=True)
    with page.expect_response(
        lambda r: r.request.method == "POST" and "/responses" in r.url
    ) as posted:
        page.click("button.button--submit")
    assert posted.value.status == 201
    page.close()

    pulled = pull_judgments(store, dataset=unique_name, connection=connection)
    assert (pulled.created, pulled.skipped) == (1, 0)
    with Session(store) as s:
        order = s.exec(
            select(ArgillaRecord.shown_order).where(ArgillaRecord.pair_id == pair_id)
        ).one()
        judgment = s.exec(select(Judgment).where(Judgment.judge == annotator.username)).one()
    assert (judgment.pair_id, judgment.kind, judgment.status) == (pair_id, "human", "submitted")
    assert judgment.preferred == to_canonical("b", order) and judgment.meta["shown_label"] == "b"


def test_annotator_writes_a_demonstration_in_the_web_ui(
    store, connection, make_annotator, unique_name, argilla_server, browser, artifacts_dir
):
    from accord.feedback.argilla.demonstrations import pull_demonstrations, push_demonstrations
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.db import session_scope
    from accord.store.models import Response

    with session_scope(store) as s:
        prompt_id = upsert_prompt(s, text="What colour is a clear daytime sky, and why?").id
    push_demonstrations(store, dataset=unique_name, workspace=unique_name, connection=connection)
    annotator = make_annotator(f"{unique_name}-writer", unique_name)
    written = "Blue: air scatters the short blue wavelengths of sunlight the most."

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{argilla_server.url}/sign-in")
    page.fill("input[name=Username]", annotator.username)
    page.fill("input[name=Password]", PASSWORD)
    page.click("button[type=submit]")
    page.click(f"a.dataset-card:has-text('{unique_name}')")
    page.wait_for_selector("text=Write the response the assistant should give")
    page.click("[contenteditable=true]")  # the TextQuestion's editor
    page.keyboard.type(written)
    page.screenshot(path=str(artifacts_dir / "argilla-demonstration.png"), full_page=True)
    with page.expect_response(
        lambda r: r.request.method == "POST" and "/responses" in r.url
    ) as posted:
        page.click("button.button--submit")
    assert posted.value.status == 201
    page.close()

    pulled = pull_demonstrations(store, dataset=unique_name, connection=connection)
    assert (pulled.created, pulled.empty, pulled.skipped) == (1, 0, 0)
    with Session(store) as s:
        (demo,) = s.exec(select(Response).where(Response.role == "demonstration")).all()
    assert (demo.prompt_id, demo.text, demo.model_id) == (
        prompt_id,
        written,
        f"human:{annotator.username}",
    )
    assert demo.source == f"argilla:{unique_name}" and demo.withdrawn_at is None
    assert pull_demonstrations(store, dataset=unique_name, connection=connection).unchanged == 1
