"""The dashboard in a real browser: Debian's chromium driven by Playwright, against the real
server (uvicorn on a free port) and a real worker. Screenshots go to test-artifacts/."""

from __future__ import annotations

import threading
import time

import pytest

from accord.service.config import ServiceSettings
from tests.fixtures.ports import free_port

from .conftest import create_role_users, seed_store
from .workloads import register

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def live_service(tmp_path):
    """uvicorn serving the app on a file store, with a worker thread running jobs."""
    import uvicorn

    from accord.service.app import create_app
    from accord.service.worker import Worker
    from accord.store.db import open_store

    register()
    settings = ServiceSettings(
        database_url=f"sqlite:///{tmp_path / 'svc.db'}",
        home=tmp_path / "home",
        heartbeat_seconds=0.3,
    )
    engine = open_store(settings.database_url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    worker = Worker(engine, settings=settings, poll_interval=0.2)
    worker_thread = threading.Thread(target=worker.run_forever, daemon=True)
    yield {
        "url": f"http://127.0.0.1:{port}",
        "engine": engine,
        "worker": worker,
        "worker_thread": worker_thread,
        "settings": settings,
    }
    worker.stop()
    server.should_exit = True
    thread.join(10)
    if worker_thread.is_alive():
        worker_thread.join(30)


@pytest.fixture
def browser():
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


def test_sign_in_watch_a_job_move_and_open_a_snapshot(live_service, browser, artifacts_dir):
    from accord.snapshots import create_snapshot
    from accord.store.crud.jobs import create_job
    from accord.store.db import session_scope
    from accord.store.models import RunMetric, TrainingRun

    engine, base = live_service["engine"], live_service["url"]
    tokens = create_role_users(engine)
    seed_store(engine, prompts=4)
    create_snapshot(engine, name="first", policy="human-over-ai", test_fraction=0.25)
    seed_store(engine, prompts=6)
    create_snapshot(engine, name="second", policy="human-over-ai", test_fraction=0.25)
    with session_scope(engine) as s:
        job_id = create_job(
            s, kind="count", name="browser-count", config={"n": 25, "delay": 0.25, "tag": "browser"}
        ).id
        run = TrainingRun(name="dpo-demo", kind="dpo", status="succeeded")
        s.add(run)
        s.flush()
        for step in range(1, 21):
            s.add(
                RunMetric(
                    run_id=run.id,
                    step=step,
                    values={"loss": 0.7 / step**0.5, "rewards/accuracies": step / 25},
                )
            )
        run_id = run.id

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/jobs")
    assert "/signin" in page.url
    page.fill("#token", "acc_wrong")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Unknown or deactivated token."
    page.fill("#token", tokens["engineer"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/jobs")
    progress = page.locator(f'.progress[data-job="{job_id}"]')
    assert progress.locator(".status").inner_text() == "queued"

    live_service["worker_thread"].start()  # the job starts only now, while the page watches
    page.wait_for_function(
        f"""() => {{ const el = document.querySelector('.progress[data-job="{job_id}"] .count');
                    const done = parseInt(el.textContent.split('/')[0], 10);
                    return done >= 3 && done < 25; }}""",
        timeout=60_000,
    )
    first = int(progress.locator(".count").inner_text().split("/")[0])
    page.screenshot(path=str(artifacts_dir / "service-jobs-running.png"), full_page=True)
    page.wait_for_function(
        f"""() => parseInt(document.querySelector('.progress[data-job="{job_id}"] .count')
                 .textContent.split('/')[0], 10) > {first}""",
        timeout=30_000,
    )
    page.wait_for_selector(
        f'.progress[data-job="{job_id}"][data-status="succeeded"]', timeout=60_000
    )
    assert progress.locator(".count").inner_text() == "25/25"
    page.screenshot(path=str(artifacts_dir / "service-jobs-done.png"), full_page=True)

    page.click("nav >> text=Snapshots")
    page.click("a:has-text('first')")
    assert page.locator("#snapshot-name").inner_text() == "first"
    assert '"content_hash"' in page.locator("#manifest").inner_text()
    page.select_option("#diff", "second")
    page.click("button:has-text('Diff')")
    page.wait_for_selector("#diff-result")
    page.screenshot(path=str(artifacts_dir / "service-snapshot-diff.png"), full_page=True)

    page.goto(f"{base}/runs/{run_id}")
    assert page.locator('figure.curve[data-metric="loss"] polyline').get_attribute("points")
    page.screenshot(path=str(artifacts_dir / "service-run-curves.png"), full_page=True)

    page.goto(f"{base}/")
    assert int(page.locator("#count-pairs").inner_text()) == 6
    page.goto(f"{base}/agreement")
    page.screenshot(path=str(artifacts_dir / "service-agreement.png"), full_page=True)
    page.click("text=sign out")
    page.goto(f"{base}/jobs")
    assert "/signin" in page.url


def test_an_annotator_sees_agreement_but_not_jobs(live_service, browser):
    base = live_service["url"]
    tokens = create_role_users(live_service["engine"])
    page = browser.new_page()
    page.goto(f"{base}/signin")
    page.fill("#token", tokens["annotator"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert page.locator("nav >> text=Jobs").count() == 0
    response = page.goto(f"{base}/jobs")
    assert response.status == 403 and "cannot see this page" in page.content()
    assert page.goto(f"{base}/agreement").status == 200
