"""The audit shows each judge's newest stored calibration beside its raw calibration: the
figures in JSON, text and HTML, and the after curve in the reliability diagram (real store)."""

from __future__ import annotations

import io
import json

from rich.console import Console

from accord.audit.calibrate import calibrate_judge
from accord.audit.html_report import write_html
from accord.audit.plots import reliability_diagram_png
from accord.audit.render_text import print_report
from accord.audit.report import run_audit
from accord.audit.stored_calibrations import attach_stored_calibrations
from accord.store.db import open_store
from tests.snapshots.trust_store import JUDGE, build_trust_store


def test_audit_carries_the_newest_stored_calibration(db_url, tmp_path):
    store = build_trust_store(db_url, n_pairs=120, n_human=100, k=0.5)
    engine = store.engine
    before = run_audit(engine).to_dict()
    assert "stored_calibration" not in before["calibration"][0]
    first = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=50)
    newest = calibrate_judge(engine, judge=JUDGE, method="platt", n_resamples=50).calibration
    report = json.loads(json.dumps(run_audit(engine).to_dict(), default=str))
    (row,) = report["calibration"]
    stored = row["stored_calibration"]
    assert stored["id"] == newest.id != first.calibration.id and stored["method"] == "platt"
    assert stored["ece_after"] == newest.ece_after and stored["n"] == 100
    assert len(stored["curve_after"]["prob_pred"]) == len(stored["curve_after"]["prob_true"]) > 0
    png = reliability_diagram_png(report)
    assert png is not None and png.startswith(b"\x89PNG")
    out = io.StringIO()
    print_report(report, Console(file=out, width=200))
    assert f"{newest.id} (platt): ECE" in out.getvalue()
    html = write_html(report, tmp_path / "audit.html").read_text()
    assert f"{newest.id} (v1, platt, n 100)" in html


def test_judges_without_a_calibration_are_left_alone():
    engine = open_store("sqlite://")
    rows = [{"judge": "j", "n": 3, "ece": 0.1, "brier": 0.2}]
    assert attach_stored_calibrations(engine, rows) == rows
