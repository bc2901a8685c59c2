"""The ``calibrate`` and ``escalate`` recipe steps on a simulated store (SQLite and PostgreSQL):
calibrate → escalate (with that calibration) → snapshot (escalate policy, the same calibration),
the figures each step hands on, and the same certificate as ``accord escalate``."""

from __future__ import annotations

import pytest

from accord.audit.escalate import certify_judge
from accord.jobs.registry import get_step, load_plugins
from accord.jobs.runner import run_recipe
from accord.snapshots import get_snapshot
from accord.store.crud.calibrations import list_calibrations
from accord.store.db import session_scope
from tests.snapshots.trust_store import JUDGE, build_trust_store

RECIPE = {
    "name": "trust",
    "seed": 0,
    "steps": [
        {"kind": "calibrate", "judge": JUDGE, "method": "temperature", "resamples": 50},
        {
            "kind": "escalate",
            "judge": JUDGE,
            "target": 0.8,
            "delta": 0.1,
            "calibration": "calibrate",
        },
        {
            "kind": "snapshot",
            "snapshot": "trust-escalated",
            "policy": "escalate",
            "test_fraction": 0.0,
            "params": {"target": 0.8, "delta": 0.1, "calibration": "calibrate"},
        },
    ],
}


def test_calibrate_escalate_snapshot_recipe(db_url):
    store = build_trust_store(db_url, n_pairs=200, n_human=120, k=0.5)
    engine = store.engine
    result = run_recipe(engine, RECIPE, progress=False)
    assert result.status == "succeeded"
    with session_scope(engine) as s:
        (cal,) = list_calibrations(s, judge=JUDGE)
        cal_id = cal.id
    assert result.steps["calibrate"]["calibration"] == cal_id
    expected = certify_judge(engine, judge=JUDGE, target=0.8, delta=0.1, calibration_id=cal_id)
    assert result.steps["escalate"]["kept"] == len(expected.kept_pair_ids)
    assert result.steps["escalate"]["escalated"] == len(expected.escalate_pair_ids)
    snap = get_snapshot(engine, "trust-escalated")
    assert snap.params["calibration"] == cal_id
    assert snap.manifest["calibration"]["id"] == cal_id
    esc = snap.manifest["escalation"]
    assert esc["judges"][0]["threshold"] == expected.certificate.threshold
    assert esc["ai_only_pairs_kept"] == len(expected.kept_pair_ids)
    # Run again: the calibration is reused, nothing new is stored.
    again = run_recipe(engine, RECIPE, progress=False)
    assert again.steps["calibrate"]["reused"] is True


def test_step_configs_check_their_fields():
    load_plugins()
    with pytest.raises(ValueError, match="method"):
        get_step("calibrate").config_model(kind="calibrate", judge="j", method="nope")
    with pytest.raises(ValueError, match="target"):
        get_step("escalate").config_model(kind="escalate", judge="j", target=1.5)
    with pytest.raises(ValueError, match="target"):
        get_step("escalate").config_model(kind="escalate", judge="j")
