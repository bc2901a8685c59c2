"""The ``escalate`` snapshot policy on simulated judges of known calibration (SQLite and
PostgreSQL): human labels where present, AI labels exactly where the certified threshold
allows, the manifest's figures, and abstention when the target is out of reach."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.audit.calibration_data import JudgeSelection, load_labelled_pairs
from accord.audit.escalate import certify_judge
from accord.audit.escalation import certify_escalation
from accord.cli.main import app
from accord.jobs.registry import get_step
from accord.service.job_kinds import JobConfigError, validate_config
from accord.snapshots import PolicyParams, SnapshotError, create_snapshot
from accord.store.crud.calibrations import create_calibration
from accord.store.db import session_scope
from accord.store.models import SnapshotExample

from .trust_store import JUDGE, build_trust_store


def _examples(engine, snap) -> dict[int, tuple[str, float]]:
    with Session(engine) as s:
        rows = s.exec(select(SnapshotExample).where(SnapshotExample.snapshot_id == snap.id)).all()
    return {r.pair_id: (r.label_source, r.prob) for r in rows}


@pytest.fixture
def store(db_url):
    return build_trust_store(db_url, n_pairs=260, n_human=160, k=1.0)


def _expected(store, p, *, target, delta):
    n = store.n_human
    confidence = np.maximum(p, 1 - p)
    agrees = (p[:n] > 0.5) == store.human["ann"]
    cert = certify_escalation(confidence[:n], agrees, target=target, delta=delta)
    kept = {
        int(store.pair_ids[i])
        for i in range(n, len(p))
        if cert.threshold is not None and confidence[i] >= cert.threshold
    }
    return cert, kept


def test_keeps_human_labels_and_exactly_the_certified_ai_labels(store):
    engine = store.engine
    snap = create_snapshot(
        engine,
        name="esc",
        policy="escalate",
        test_fraction=0.0,
        params=PolicyParams(target=0.8, delta=0.1),
    )
    cert, kept = _expected(store, store.p, target=0.8, delta=0.1)
    assert cert.threshold is not None and 0 < len(kept) < len(store.p) - store.n_human
    examples = _examples(engine, snap)
    human = {int(p) for p in store.pair_ids[: store.n_human]}
    assert {p for p, (src, _) in examples.items() if src == "human"} == human
    assert {p for p, (src, _) in examples.items() if src == "ai"} == kept
    assert all(prob == 1.0 for _, prob in examples.values())  # hard labels, as human-over-ai
    esc = snap.manifest["escalation"]
    assert (esc["target"], esc["delta"], esc["calibration_id"]) == (0.8, 0.1, None)
    assert esc["ai_only_pairs"] == 100 and esc["ai_only_pairs_kept"] == len(kept)
    assert esc["coverage"] == pytest.approx(len(kept) / 100)
    (judge,) = esc["judges"]
    assert judge["judge"] == JUDGE and judge["threshold"] == cert.threshold
    assert judge["agreement_lower"] == pytest.approx(cert.agreement_lower)
    assert judge["n_calibration"] == store.n_human and judge["kept"] == len(kept)
    assert judge["escalated"] == 100 - len(kept)
    # The same human label set `accord escalate` certifies on.
    data = load_labelled_pairs(engine, JudgeSelection(judge=JUDGE))
    assert judge["human_label_hash"] == data.human_label_hash()
    assert (
        certify_judge(engine, judge=JUDGE, target=0.8, delta=0.1).certificate.threshold
        == cert.threshold
    )
    assert snap.params["target"] == 0.8 and snap.params["delta"] == 0.1


def test_unreachable_target_keeps_no_ai_label_and_says_so(store):
    snap = create_snapshot(
        store.engine,
        name="esc-high",
        policy="escalate",
        test_fraction=0.0,
        params=PolicyParams(target=0.995, delta=0.05),
    )
    assert set(snap.manifest["source_mix"]) == {"human"}
    esc = snap.manifest["escalation"]
    assert esc["coverage"] == 0.0 and esc["judges"][0]["threshold"] is None
    assert "no threshold certified at target 0.995" in esc["judges"][0]["note"]


def test_calibrated_confidence_sets_the_threshold(store):
    engine = store.engine
    params = {"a": 0.5, "b": 0.4}  # a Platt map that moves confidences (and sides) around
    with session_scope(engine) as s:
        cal = create_calibration(
            s,
            key_hash="platt",
            judge=JUDGE,
            constitution_hash="",
            principle="",
            method="platt",
            human_label_hash="0" * 64,
            n=160,
            params=params,
            report={
                "ece": {"before": {"value": 0.1}, "after": {"value": 0.1}},
                "brier": {"before": {"value": 0.2}, "after": {"value": 0.2}},
            },
        ).id
    snap = create_snapshot(
        engine,
        name="esc-cal",
        policy="escalate",
        test_fraction=0.0,
        params=PolicyParams(target=0.75, delta=0.1, calibration=cal),
    )
    logit = np.log(store.p / (1 - store.p))
    q = 1 / (1 + np.exp(-(0.5 * logit + 0.4)))
    cert, kept = _expected(store, q, target=0.75, delta=0.1)
    examples = _examples(engine, snap)
    assert {p for p, (src, _) in examples.items() if src == "ai"} == kept
    assert snap.manifest["escalation"]["judges"][0]["threshold"] == cert.threshold
    assert snap.manifest["escalation"]["calibration_id"] == cal
    assert snap.manifest["calibration"]["id"] == cal


def test_target_and_delta_are_required_and_checked_on_every_face(store, db_url):
    with pytest.raises(SnapshotError, match="target: the 'escalate' policy needs target"):
        create_snapshot(store.engine, name="e", policy="escalate")
    with pytest.raises(SnapshotError, match="target is an option of the escalate policy"):
        create_snapshot(store.engine, name="e", policy="soft", params=PolicyParams(target=0.8))
    with pytest.raises(ValueError, match="delta must be a number in \\(0, 1\\)"):
        PolicyParams(target=0.8, delta=1.5)
    with pytest.raises(JobConfigError, match="params.delta"):
        validate_config("snapshot", {"name": "e", "policy": "escalate", "params": {"target": 0.8}})
    with pytest.raises(ValueError, match="params.target"):
        get_step("snapshot").config_model(kind="snapshot", policy="escalate", params={"delta": 0.1})
    out = CliRunner().invoke(
        app,
        [
            "snapshot",
            "create",
            "esc-cli",
            "--policy",
            "escalate",
            "--target",
            "0.8",
            "--delta",
            "0.1",
            "--test-fraction",
            "0",
            "--db",
            db_url,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    manifest = json.loads(out.output)
    assert manifest["escalation"]["target"] == 0.8
    cert, kept = _expected(store, store.p, target=0.8, delta=0.1)
    assert manifest["escalation"]["ai_only_pairs_kept"] == len(kept)
    text = CliRunner().invoke(
        app,
        [
            "snapshot",
            "create",
            "esc-cli",
            "--policy",
            "escalate",
            "--target",
            "0.8",
            "--delta",
            "0.1",
            "--test-fraction",
            "0",
            "--db",
            db_url,
        ],
    )
    assert text.exit_code == 0, text.output
    assert (
        f"escalation {JUDGE}: threshold {cert.threshold:.3f} (target 0.8, delta 0.1), kept "
        f"{len(kept)} of 100 AI-only pairs" in " ".join(text.output.split())
    )
