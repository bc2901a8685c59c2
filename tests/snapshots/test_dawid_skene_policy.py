"""The ``dawid-skene`` snapshot policy on simulated annotators of known accuracy (SQLite and
PostgreSQL): each pair's soft label is the Dawid–Skene posterior, the manifest carries each
annotator's estimated accuracy, AI votes and ties are left out."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session, select

from accord.audit.dawid_skene import dawid_skene
from accord.snapshots import create_snapshot
from accord.store.crud.judgments import upsert_judgment
from accord.store.db import session_scope
from accord.store.models import Pair, SnapshotExample

from .trust_store import build_trust_store

ACCURACY = {"ann": 0.95, "bea": 0.85, "cat": 0.7, "dan": 0.55}


@pytest.fixture
def store(db_url):
    return build_trust_store(db_url, n_pairs=170, n_human=150, annotators=ACCURACY, seed=3)


def test_posteriors_match_dawid_skene_and_accuracies_are_recovered(store):
    engine = store.engine
    # One tie vote: it names no side and is left out.
    with session_scope(engine) as s:
        pair = s.get(Pair, int(store.pair_ids[0]))
        upsert_judgment(s, pair=pair, kind="human", judge="eve", preferred="tie")
    snap = create_snapshot(engine, name="ds", policy="dawid-skene", test_fraction=0.0)
    n = store.n_human
    names = list(ACCURACY)
    items = np.tile(np.arange(n), len(names))
    workers = np.repeat(np.arange(len(names)), n)
    labels = np.concatenate([store.human[w].astype(int) for w in names])
    fit = dawid_skene(items, workers, labels)
    posterior_a = fit.posteriors[:, list(fit.classes).index(1)]
    with Session(engine) as s:
        rows = s.exec(select(SnapshotExample).where(SnapshotExample.snapshot_id == snap.id)).all()
        pairs = {p.id: p for p in s.exec(select(Pair)).all()}
    by_pair = {r.pair_id: r for r in rows}
    assert set(by_pair) == {int(p) for p in store.pair_ids[:n]}  # AI-only pairs get no label
    for i in range(n):
        row = by_pair[int(store.pair_ids[i])]
        a_wins = row.chosen_id == pairs[row.pair_id].response_a_id
        p_a = row.prob if a_wins else 1 - row.prob
        assert p_a == pytest.approx(posterior_a[i], abs=2e-6)
        assert row.label_source == "human" and row.n_labels == len(names)
    figures = snap.manifest["dawid_skene"]
    assert figures["iterations"] == fit.iterations and figures["pairs"] == n
    assert figures["ties_left_out"] == 1 and figures["ai_votes_left_out"] == 170
    estimated = {r["annotator"]: r for r in figures["annotators"]}
    assert set(estimated) == set(ACCURACY)
    for name, acc in ACCURACY.items():
        assert estimated[name]["accuracy"] == pytest.approx(acc, abs=0.08)
        assert estimated[name]["n_labels"] == n and estimated[name]["annotator_id"] is not None
    # Better than majority vote against the drawn truth.
    truth = store.truth_a[:n]
    majority = np.mean(labels.reshape(len(names), n), axis=0)
    ds_right = np.mean((posterior_a > 0.5) == truth)
    mv_right = np.mean(np.where(majority == 0.5, 0.5, (majority > 0.5) == truth))
    assert ds_right >= mv_right


def test_no_human_side_means_no_example(db_url):
    store = build_trust_store(db_url, n_pairs=5, n_human=0)
    snap = create_snapshot(
        store.engine, name="ds-empty", policy="dawid-skene", test_fraction=0.0, allow_empty=True
    )
    assert snap.n_train == 0
    assert snap.manifest["dawid_skene"]["annotators"] == []
