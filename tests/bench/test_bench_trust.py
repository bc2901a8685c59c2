"""bench/bench_trust.py: on a simulated judge of known calibration the held-out half keeps the
promise, an unreachable target abstains, and the script runs end to end on a real store."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np

from tests.snapshots.trust_store import JUDGE, build_trust_store

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_trust", ROOT / "bench" / "bench_trust.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_held_out_agreement_meets_the_target_on_a_calibrated_judge():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.02, 0.98, 4000)
    y = (rng.uniform(size=4000) < p).astype(int)
    rows = bench.escalation_figures(p, y, targets=(0.8, 0.99), delta=0.1)
    reached, unreachable = rows
    assert reached["threshold"] is not None and reached["held_out_coverage"] > 0.3
    assert reached["held_out_agreement"] >= 0.78  # target 0.8, up to sampling slack
    assert unreachable["threshold"] is None and unreachable["held_out_coverage"] == 0.0
    calibrated = bench.escalation_figures(p, y, targets=(0.8,), calibrate=True)[0]
    assert calibrated["calibrated"] and calibrated["threshold"] is not None


def test_script_runs_on_a_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    build_trust_store(url, n_pairs=120, n_human=120, k=0.7)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_trust.py"),
            "--db",
            url,
            "--judge",
            JUDGE,
            "--resamples",
            "50",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["pairs"] == 120 and len(figures["calibration"]) == 3
    assert len(figures["escalation"]) == 6
