"""The rank agreement section of the HTML audit page (τ-b and ordinal α with their intervals,
per AI judge), read back from the rendered page and in a real headless Chromium."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser

import pytest

from accord.audit.bootstrap import BootstrapConfig
from accord.audit.html_report import render_html, write_html
from accord.audit.report import AuditConfig, run_audit
from accord.store.db import open_store
from tests.audit.test_rank_agreement import _store_rankings

CHROMIUM = "/usr/bin/chromium"


class _Table(HTMLParser):
    """The rows (cell texts) of the table with ``id``."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def rows_of(html: str, table_id: str) -> list[list[str]]:
    parser = _Table(table_id)
    parser.feed(html)
    return parser.rows


def ci_text(e) -> str:
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


@pytest.fixture
def ranked_report(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'ranks.db'}")
    _store_rankings(engine)
    return run_audit(engine, config=AuditConfig(BootstrapConfig(n_resamples=200, seed=3)))


def test_html_page_shows_the_rank_agreement_of_the_json(ranked_report):
    report = ranked_report.to_dict()
    section = report["rankings"]
    html = render_html(report)
    header, humans, *judges = rows_of(html, "rank-agreement")
    assert header[:3] == [
        "between",
        "Kendall's τ-b [interval]",
        "Krippendorff's α (ordinal) [interval]",
    ]
    hh = section["human_human"]
    assert humans == [
        "annotators",
        ci_text(hh["kendall_tau_b"]),
        ci_text(hh["krippendorff_alpha_ordinal"]),
        str(section["n_items_multi_human"]),
        str(hh["kendall_tau_b"]["n_rater_pairs"]),
    ]
    assert len(judges) == len(section["human_ai"]) == 1
    row = section["human_ai"][0]
    assert judges[0] == [
        f"annotators vs {row['judge']}",
        ci_text(row["kendall_tau_b"]),
        "–",
        str(row["n_items"]),
        str(row["n_comparisons"]),
    ]
    assert "36 human and 12 AI rankings of 12 ranked items, expanded into 288 pairwise" in html


def test_html_page_says_when_there_are_no_rankings(tmp_path):
    report = run_audit(open_store(f"sqlite:///{tmp_path / 'empty.db'}")).to_dict()
    html = render_html(report)
    assert "No rankings in scope." in html and not rows_of(html, "rank-agreement")


@pytest.mark.browser
def test_rank_agreement_section_in_chromium(ranked_report, tmp_path, artifacts_dir):
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    report = ranked_report.to_dict()
    path = write_html(report, tmp_path / "audit.html")
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
            heading = page.locator("h2#rankings")
            assert heading.inner_text() == "Rankings of K responses"
            table = page.locator("table#rank-agreement")
            table.scroll_into_view_if_needed()
            assert table.is_visible()
            cells = table.locator("tr").nth(1).locator("td").all_inner_texts()
            hh = report["rankings"]["human_human"]
            assert cells[1] == ci_text(hh["kendall_tau_b"])
            assert cells[2] == ci_text(hh["krippendorff_alpha_ordinal"])
            judge_row = table.locator("tr").nth(2).locator("td").all_inner_texts()
            assert judge_row[0] == "annotators vs judge-model"
            table.screenshot(path=str(artifacts_dir / "audit-rankings.png"))
        finally:
            browser.close()
    assert (artifacts_dir / "audit-rankings.png").stat().st_size > 2_000
