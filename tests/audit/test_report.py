"""The audit report on a small known store, checked against figures computed here directly
from the label constants with the reference libraries (not through accord's loader)."""

from __future__ import annotations

import json
from collections import Counter

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, cohen_kappa_score
from sqlmodel import Session, select

from accord.audit.bootstrap import BootstrapConfig
from accord.audit.disagreements import score_disagreements, select_disagreements
from accord.audit.loader import AuditScope, load_audit_data
from accord.audit.policy import (
    annotator_reliability,
    audit_summary_for_manifest,
    principle_human_agreement,
)
from accord.audit.report import AuditConfig, run_audit
from accord.store.models import Judgment

from .conftest import (
    CONSTITUTION,
    HUMANS,
    JUDGE_X_AB,
    JUDGE_X_AGG,
    JUDGE_X_BA,
    JUDGE_X_PROB,
    JUDGE_Y,
    N_PAIRS,
)

CODE = {"a": 0, "b": 1, "tie": 2}


def majority(i: int) -> str | None:
    votes = Counter(labels[i] for labels in HUMANS.values() if i < len(labels))
    (top, n), *rest = votes.most_common() + [(None, 0)]
    return top if n > rest[0][1] else None


MAJORITY = [majority(i) for i in range(N_PAIRS)]


def compare(ai_labels, pairs=range(N_PAIRS)):
    pairs = [i for i in pairs if MAJORITY[i] is not None]
    human = [MAJORITY[i] for i in pairs]
    ai = [ai_labels[i] for i in pairs]
    return np.mean([h == a for h, a in zip(human, ai)]), cohen_kappa_score(human, ai), len(pairs)


def find(rows, **fields):
    hits = [r for r in rows if all(r[k] == v for k, v in fields.items())]
    assert len(hits) == 1, (fields, rows)
    return hits[0]


@pytest.fixture
def report(audit_store):
    return run_audit(
        audit_store["engine"], config=AuditConfig(BootstrapConfig(n_resamples=200))
    ).to_dict()


def test_loader_matches_the_store_row_by_row(audit_store):
    engine = audit_store["engine"]
    data = load_audit_data(engine)
    with Session(engine) as s:
        rows = s.exec(select(Judgment).where(Judgment.status == "submitted")).all()
    expected = sorted(
        (
            r.pair_id,
            r.judge,
            r.principle,
            r.presentation_order,
            r.preferred,
            r.is_aggregate,
            r.prob_a,
        )
        for r in rows
    )
    got = sorted(
        (
            int(data.pair_ids[p]),
            data.sources.judge[s],
            data.sources.principle[s],
            ("ab", "ba", "agg", "")[o],
            ("a", "b", "tie")[lab],
            bool(agg),
            None if np.isnan(pr) else round(float(pr), 6),
        )
        for p, s, o, lab, agg, pr in zip(
            data.pair, data.source, data.order, data.label, data.is_aggregate, data.prob_a
        )
    )
    assert got == expected
    assert [tuple(x) for x in zip(data.len_a, data.len_b)] == audit_store["lengths"]
    humans = {
        data.sources.judge[s]: int(data.sources.annotator_id[s])
        for s in np.unique(data.source)
        if data.sources.kind[s] == 0
    }
    assert humans == audit_store["annotators"]


def test_human_human_against_krippendorff_and_by_hand(report):
    matrix = np.full((3, N_PAIRS), np.nan)
    for r, labels in enumerate(HUMANS.values()):
        matrix[r, : len(labels)] = [CODE[x] for x in labels]
    hh = report["human_human"]
    assert hh["alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-6
    )
    assert hh["alpha"]["low"] <= hh["alpha"]["value"] <= hh["alpha"]["high"]
    assert hh["n_units_multi"] == 8 and hh["n_ratings"] == 28 and hh["n_raters"] == 3
    assert hh["fleiss_kappa"]["raters_per_unit"] == 3 and hh["fleiss_kappa"]["n_units"] == 8


def test_annotators(report):
    for name, labels in HUMANS.items():
        agree = pairs = 0
        for i, label in enumerate(labels):
            others = [o[i] for n, o in HUMANS.items() if n != name and i < len(o)]
            agree += sum(o == label for o in others)
            pairs += len(others)
        row = find(report["annotators"], username=name)
        assert row["agreement"] == pytest.approx(agree / pairs, abs=1e-6)
        assert row["n_labels"] == len(labels) and row["is_gold"] == (name == "carol")
    alice = find(report["annotators"], username="alice")
    gold = HUMANS["carol"]
    assert alice["n_gold_items"] == 8
    assert alice["gold_agreement"] == pytest.approx(
        np.mean([HUMANS["alice"][i] == gold[i] for i in range(8)])
    )
    assert find(report["annotators"], username="carol")["n_gold_items"] == 0


def test_human_ai_by_source(report):
    rows = report["human_ai"]["by_source"]
    agg = find(rows, judge="judge-x", principle="(overall)")
    acc, kappa, n = compare(JUDGE_X_AGG)
    assert (agg["n"], agg["agreement"]["value"]) == (n, pytest.approx(acc, abs=1e-6))
    assert agg["kappa"]["value"] == pytest.approx(kappa, abs=1e-6)
    assert agg["constitution"] == "hh@1"
    derived = [ab if ab == ba else "tie" for ab, ba in zip(JUDGE_X_AB, JUDGE_X_BA)]
    helpful = find(rows, judge="judge-x", principle="helpful")
    assert helpful["agreement"]["value"] == pytest.approx(compare(derived)[0], abs=1e-6)
    y = find(rows, judge="judge-y")
    acc, kappa, n = compare(JUDGE_Y, range(len(JUDGE_Y)))
    assert (y["n"], y["agreement"]["value"], y["constitution"]) == (
        n,
        pytest.approx(acc, abs=1e-6),
        "(none)",
    )
    by_judge = find(report["human_ai"]["by_judge"], judge="judge-x")
    assert by_judge["n"] == agg["n"] + helpful["n"]
    by_principle = {r["principle"]: r["n"] for r in report["human_ai"]["by_principle"]}
    assert by_principle == {"(overall)": agg["n"] + y["n"], "helpful": helpful["n"]}


def test_calibration_position_principles_length(report, audit_store):
    cal = find(report["calibration"], judge="judge-x")
    keep = [i for i in range(N_PAIRS) if MAJORITY[i] in ("a", "b")]
    y = [MAJORITY[i] == "a" for i in keep]
    assert cal["n"] == len(keep)
    assert cal["brier"] == pytest.approx(
        brier_score_loss(y, [JUDGE_X_PROB[i] for i in keep]), abs=1e-6
    )

    pos = find(report["position_consistency"]["by_source"], judge="judge-x", principle="helpful")
    assert pos["consistency"]["value"] == pytest.approx(
        np.mean(np.array(JUDGE_X_AB) == np.array(JUDGE_X_BA))
    )
    wins = JUDGE_X_AB.count("a") + JUDGE_X_BA.count("b")
    assert pos["first_position_wins"] == pytest.approx(wins / (2 * N_PAIRS), abs=1e-6)

    (matrix,) = report["principle_agreement"]
    assert matrix["principles"] == ["(overall)", "helpful"]
    derived = [ab if ab == ba else "tie" for ab, ba in zip(JUDGE_X_AB, JUDGE_X_BA)]
    assert matrix["agreement"][0][1] == pytest.approx(
        np.mean(np.array(derived) == np.array(JUDGE_X_AGG)), abs=1e-6
    )

    lengths = audit_store["lengths"]
    decisive = [
        (i, lab) for labels in HUMANS.values() for i, lab in enumerate(labels) if lab != "tie"
    ]
    longer = [(lab == "a") == (lengths[i][0] > lengths[i][1]) for i, lab in decisive]
    human = find(report["length_bias"], source="human (all ratings)")
    assert human["longer_wins"]["value"] == pytest.approx(np.mean(longer), abs=1e-6)
    assert report["reward_models"] == [
        {**report["reward_models"][0], "name": "rm-1", "rm_heldout_accuracy": 0.71}
    ]


def test_scopes(audit_store):
    engine = audit_store["engine"]
    ids = audit_store["pair_ids"]
    for scope, expected in (
        (AuditScope(job_id=audit_store["recipe_job"]), ids[:6]),
        (AuditScope(job_id=audit_store["judge_job"]), ids[:6]),
        (AuditScope(snapshot="snap"), ids[:4]),
        (AuditScope(), ids),
    ):
        data = load_audit_data(engine, scope)
        assert data.pair_ids.tolist() == expected, scope
    snap = run_audit(
        engine, AuditScope(snapshot="snap"), config=AuditConfig(BootstrapConfig(n_resamples=0))
    )
    assert [r["name"] for r in snap.reward_models] == ["rm-1"]
    job = run_audit(
        engine,
        AuditScope(job_id=audit_store["recipe_job"]),
        config=AuditConfig(BootstrapConfig(n_resamples=0)),
    )
    # The job's pairs 0-3 are in the snapshot the reward model was trained on.
    assert [r["name"] for r in job.reward_models] == ["rm-1"] and job.counts["pairs"] == 6
    with pytest.raises(ValueError, match="no snapshot named 'nope'"):
        load_audit_data(engine, AuditScope(snapshot="nope"))
    with pytest.raises(ValueError, match="no job with id 999"):
        load_audit_data(engine, AuditScope(job_id=999))
    with pytest.raises(ValueError, match="one scope at a time"):
        AuditScope(job_id=1, snapshot="snap")


def test_report_is_deterministic_and_json(sqlite_audit_store):
    engine = sqlite_audit_store["engine"]
    config = AuditConfig(BootstrapConfig(n_resamples=300, seed=7))
    first = run_audit(engine, config=config).to_dict()
    assert first == run_audit(engine, config=config).to_dict()
    assert json.loads(json.dumps(first)) == first
    assert (
        first
        != run_audit(engine, config=AuditConfig(BootstrapConfig(n_resamples=300, seed=8))).to_dict()
    )


def test_disagreement_queue(sqlite_audit_store):
    engine = sqlite_audit_store["engine"]
    ids = sqlite_audit_store["pair_ids"]
    queue = score_disagreements(load_audit_data(engine))
    expected = {}
    for i in range(N_PAIRS):
        votes = Counter(labels[i] for labels in HUMANS.values() if i < len(labels))
        m = sum(votes.values())
        human = 1 - max(votes.values()) / m if m >= 2 else 0.0
        ai = []
        if MAJORITY[i] is not None:
            finals = [JUDGE_X_AGG[i], JUDGE_X_AB[i] if JUDGE_X_AB[i] == JUDGE_X_BA[i] else "tie"]
            finals += [JUDGE_Y[i]] if i < len(JUDGE_Y) else []
            ai = [
                0 if f == MAJORITY[i] else 0.5 if "tie" in (f, MAJORITY[i]) else 1 for f in finals
            ]
        expected[ids[i]] = human + (np.mean(ai) if ai else 0.0)
    got = dict(zip(queue.pair_ids.tolist(), queue.score.tolist()))
    assert got == pytest.approx({k: v for k, v in expected.items() if v > 0})
    assert list(queue.score) == sorted(queue.score, reverse=True)
    top = select_disagreements(engine, limit=3)
    assert top == queue.pair_ids[:3].tolist()
    assert select_disagreements(engine, limit=100, scope=AuditScope(snapshot="snap")) == [
        i for i in queue.pair_ids.tolist() if i in ids[:4]
    ]


def test_snapshot_policy_inputs(sqlite_audit_store):
    engine = sqlite_audit_store["engine"]
    ann = sqlite_audit_store["annotators"]
    reliability = annotator_reliability(engine)
    report = run_audit(engine, config=AuditConfig(BootstrapConfig(n_resamples=0))).to_dict()
    assert reliability == {ann[r["username"]]: r["agreement"] for r in report["annotators"]}
    gold = annotator_reliability(engine, measure="gold")
    assert set(gold) == {ann["alice"], ann["bob"]}
    assert annotator_reliability(engine, measure="gold", min_items=9) == {}
    with pytest.raises(ValueError, match="measure"):
        annotator_reliability(engine, measure="vibes")

    agreement = principle_human_agreement(engine)
    derived = [ab if ab == ba else "tie" for ab, ba in zip(JUDGE_X_AB, JUDGE_X_BA)]
    assert set(agreement) == {(CONSTITUTION, ""), (CONSTITUTION, "helpful"), ("", "")}
    assert agreement[(CONSTITUTION, "helpful")] == pytest.approx(compare(derived)[0])
    assert agreement[("", "")] == pytest.approx(compare(JUDGE_Y, range(6))[0])

    summary = audit_summary_for_manifest(engine, pair_ids=sqlite_audit_store["pair_ids"][:4])
    assert summary["pairs"] == 4 and summary["human_human"]["n_units"] == 4
    assert len(json.dumps(summary)) < 2000
    assert set(summary["position_consistency"]) == {"judge-x"}
