"""The standalone HTML report in a real headless Chromium: it renders, every plot decodes,
and a screenshot is kept under test-artifacts/."""

from __future__ import annotations

import shutil

import pytest

from accord.audit.bootstrap import BootstrapConfig
from accord.audit.html_report import write_html
from accord.audit.report import AuditConfig, run_audit

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
def test_html_report_renders_with_plots(sqlite_audit_store, tmp_path, artifacts_dir):
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    report = run_audit(
        sqlite_audit_store["engine"], config=AuditConfig(BootstrapConfig(n_resamples=200))
    )
    path = write_html(report.to_dict(), tmp_path / "audit.html")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth, "
                "i.naturalHeight])"
            )
            assert {i[0] for i in images} == {
                "plot-agreement_by_principle",
                "plot-agreement_by_judge",
                "plot-agreement_by_annotator",
                "plot-reliability_diagram",
                "plot-position_consistency",
                "plot-confusion",
            }
            assert all(
                complete and width > 0 and height > 0 for _, complete, width, height in images
            )
            assert page.title() == "accord audit · whole store"
            assert page.locator("h2", has_text="Human–human agreement").is_visible()
            assert page.locator("td", has_text="judge-x").first.is_visible()
            page.screenshot(path=str(artifacts_dir / "audit-report.png"), full_page=True)
        finally:
            browser.close()
    assert (artifacts_dir / "audit-report.png").stat().st_size > 10_000
