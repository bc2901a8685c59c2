"""``snapshot create --calibration ID``: AI votes mapped through a stored calibration before
resolution, on real SQLite and PostgreSQL stores with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.audit.calibrate import calibrate_judge, calibration_map
from accord.cli.main import app
from accord.jobs.registry import get_step
from accord.service.job_kinds import JobConfigError, validate_config
from accord.snapshots import PolicyParams, SnapshotError, create_snapshot, list_snapshots
from accord.store.crud.calibrations import create_calibration
from accord.store.db import session_scope
from accord.store.models import SnapshotExample

from .trust_store import JUDGE, build_trust_store

_REPORT = {
    "ece": {"before": {"value": 0.1}, "after": {"value": 0.1}},
    "brier": {"before": {"value": 0.2}, "after": {"value": 0.2}},
}


def _stored(
    engine,
    *,
    judge: str = JUDGE,
    params: dict | None = None,
    method: str = "temperature",
    principle: str = "",
) -> int:
    with session_scope(engine) as s:
        row = create_calibration(
            s,
            key_hash=f"{judge}-{method}-{params}-{principle}",
            judge=judge,
            constitution_hash="",
            principle=principle,
            method=method,
            human_label_hash="0" * 64,
            n=100,
            params=params or {"temperature": 1.0},
            report=_REPORT,
        )
        return row.id


def _probs(engine, snap) -> dict[int, tuple[float, str]]:
    with Session(engine) as s:
        rows = s.exec(select(SnapshotExample).where(SnapshotExample.snapshot_id == snap.id)).all()
    return {r.pair_id: (r.prob, r.label_source) for r in rows}


@pytest.fixture
def store(db_url):
    return build_trust_store(db_url, n_pairs=120, n_human=60, k=0.4)


def test_identity_calibration_keeps_the_labels_and_is_recorded(store):
    engine = store.engine
    identity = _stored(engine)
    plain = create_snapshot(engine, name="plain", policy="soft", test_fraction=0.0)
    mapped = create_snapshot(
        engine,
        name="mapped",
        policy="soft",
        test_fraction=0.0,
        params=PolicyParams(calibration=identity),
    )
    before, after = _probs(engine, plain), _probs(engine, mapped)
    assert before.keys() == after.keys()
    for pid, (prob, source) in before.items():
        assert after[pid] == (pytest.approx(prob, abs=1e-6), source)
    assert "calibration" not in plain.params and "calibration" not in plain.manifest
    assert mapped.params["calibration"] == identity
    assert plain.content_hash != mapped.content_hash  # the calibration is part of the content
    record = mapped.manifest["calibration"]
    assert record["id"] == identity and record["version"] == 1 and record["judge"] == JUDGE
    assert record["method"] == "temperature" and record["params"] == {"temperature": 1.0}
    assert record["human_label_hash"] == "0" * 64 and record["votes_mapped"] == 120
    assert record["mean_abs_change"] == 0.0


def test_a_fitted_calibration_maps_every_ai_soft_label(store):
    engine = store.engine
    cal = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=50).calibration
    assert cal.params["temperature"] > 1.5  # the simulated judge is overconfident (k = 0.4)
    snap = create_snapshot(
        engine,
        name="calibrated",
        policy="soft",
        test_fraction=0.0,
        params=PolicyParams(calibration=cal.id),
    )
    q = calibration_map(cal).apply(store.p)
    probs = _probs(engine, snap)
    for i, pid in enumerate(store.pair_ids[store.n_human :], start=store.n_human):
        prob, source = probs[int(pid)]
        assert source == "ai"
        assert prob == pytest.approx(round(max(q[i], 1 - q[i]), 6), abs=1e-6)
    # Softer than the raw judge: the soft labels learn what humans would say.
    raw = create_snapshot(engine, name="raw", policy="soft", test_fraction=0.0)
    raw_probs = _probs(engine, raw)
    ai_pairs = [int(p) for p in store.pair_ids[store.n_human :]]
    assert np.mean([probs[p][0] for p in ai_pairs]) < np.mean([raw_probs[p][0] for p in ai_pairs])
    assert snap.manifest["calibration"]["ece_after"] == pytest.approx(cal.ece_after)


def test_unknown_or_unrelated_calibration_is_refused_and_nothing_written(store):
    engine = store.engine
    with pytest.raises(SnapshotError, match="calibration: no calibration 999"):
        create_snapshot(engine, name="x", policy="soft", params=PolicyParams(calibration=999))
    other = _stored(engine, judge="other-judge")
    with pytest.raises(SnapshotError, match="'other-judge', which labels none"):
        create_snapshot(engine, name="y", policy="soft", params=PolicyParams(calibration=other))
    wrong_principle = _stored(engine, principle="harmless")
    with pytest.raises(SnapshotError, match="principle 'harmless'"):
        create_snapshot(
            engine, name="z", policy="soft", params=PolicyParams(calibration=wrong_principle)
        )
    assert list_snapshots(engine) == []
    with pytest.raises(ValueError, match="calibration must be a calibration id"):
        PolicyParams(calibration=0)


def test_cli_recipe_and_job_take_the_calibration(store, db_url):
    engine = store.engine
    identity = _stored(engine)
    out = CliRunner().invoke(
        app,
        [
            "snapshot",
            "create",
            "cli-cal",
            "--policy",
            "soft",
            "--calibration",
            str(identity),
            "--db",
            db_url,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["calibration"]["id"] == identity
    bad = CliRunner().invoke(
        app,
        [
            "snapshot",
            "create",
            "cli-bad",
            "--policy",
            "soft",
            "--calibration",
            "999",
            "--db",
            db_url,
        ],
    )
    assert bad.exit_code != 0 and "no calibration 999" in bad.output
    config = validate_config(
        "snapshot", {"name": "job-cal", "policy": "soft", "params": {"calibration": identity}}
    )
    assert config["params"] == {"calibration": identity}
    with pytest.raises(JobConfigError, match="calibration must be a calibration id"):
        validate_config(
            "snapshot", {"name": "j", "policy": "soft", "params": {"calibration": "three"}}
        )
    step = get_step("snapshot").config_model(
        kind="snapshot", policy="soft", params={"calibration": identity}
    )
    assert step.params["calibration"] == identity
