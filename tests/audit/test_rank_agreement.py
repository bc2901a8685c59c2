"""Rank agreement of rankings of K responses: Kendall's τ-b against scipy, ordinal
Krippendorff's α against the ``krippendorff`` package, intervals over ranked items; in the
audit report on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pytest
from scipy.stats import kendalltau

from accord.audit.bootstrap import BootstrapConfig
from accord.audit.rank_agreement import (
    _by_item,
    kendall_tau_b,
    load_rankings,
    rank_agreement_section,
    reliability_matrix,
)
from accord.audit.report import AuditConfig, run_audit
from accord.store.crud import prompts, rankings, responses
from accord.store.db import session_scope


def test_kendall_tau_b_matches_scipy_with_and_without_ties():
    rng = np.random.default_rng(0)
    for k in range(2, 10):
        for _ in range(30):
            x, y = rng.integers(1, k + 1, size=k), rng.integers(1, k + 1, size=k)
            ours, theirs = kendall_tau_b(x, y), kendalltau(x, y).statistic
            if np.isnan(theirs):
                assert np.isnan(ours)
            else:
                assert ours == pytest.approx(theirs, abs=1e-12)


def _store_rankings(engine, n_items=12, k=4, seed=0):
    """Three annotators rank each item (the truth plus noise, ties now and then) and an AI
    judge ranks every item."""
    rng = np.random.default_rng(seed)
    with session_scope(engine) as s:
        for item in range(n_items):
            p = prompts.upsert_prompt(s, text=f"Question {item}?")
            rs = [
                responses.upsert_response(s, prompt=p, text=f"answer {item}.{i}") for i in range(k)
            ]
            truth = np.arange(k, dtype=float)
            for who, noise in (("ann", 0.5), ("bob", 1.0), ("cyd", 2.0), ("ai", 0.8)):
                score = truth + rng.normal(0, noise, size=k)
                ranks = (np.round(score * 1.5) + 10).astype(int).tolist()  # rounding makes ties
                rankings.upsert_ranking(
                    s,
                    prompt=p,
                    responses=rs,
                    ranks=ranks,
                    kind="ai" if who == "ai" else "human",
                    judge="judge-model" if who == "ai" else who,
                )


def test_rank_agreement_matches_scipy_and_krippendorff(engine):
    _store_rankings(engine)
    config = BootstrapConfig(n_resamples=500, seed=3)
    section = rank_agreement_section(engine, None, config)
    items = _by_item(load_rankings(engine))
    assert section["n_rankings"] == {"human": 36, "ai": 12} and section["n_items"] == 12
    assert section["expanded_judgments"] == 48 * 6

    # Kendall's τ-b: the mean over every pair of annotators of every item, as scipy computes it
    taus, ai_taus = [], []
    for rs in items.values():
        humans = [r for r in rs if r.kind == "human"]
        ids = humans[0].response_ids
        for a, b in itertools.combinations(humans, 2):
            t = kendalltau(a.ranks_of(ids), b.ranks_of(ids)).statistic
            taus += [] if np.isnan(t) else [t]
        (ai,) = [r for r in rs if r.kind == "ai"]
        for h in humans:
            t = kendalltau(h.ranks_of(ids), ai.ranks_of(ids)).statistic
            ai_taus += [] if np.isnan(t) else [t]
    tau = section["human_human"]["kendall_tau_b"]
    assert tau["value"] == pytest.approx(np.mean(taus), abs=1e-6)
    assert tau["low"] <= tau["value"] <= tau["high"]
    assert tau["n_units"] == 12  # the bootstrap resamples ranked items, not comparisons
    (vs_ai,) = section["human_ai"]
    assert vs_ai["judge"] == "judge-model" and vs_ai["n_items"] == 12
    assert vs_ai["kendall_tau_b"]["value"] == pytest.approx(np.mean(ai_taus), abs=1e-6)

    # Krippendorff's α, ordinal: units are the responses of each item, raters the annotators
    data, _ = reliability_matrix(items)
    assert data.shape == (3, 12 * 4)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    alpha = section["human_human"]["krippendorff_alpha_ordinal"]
    assert alpha["value"] == pytest.approx(expected, abs=1e-6)
    assert alpha["n_items"] == 12 and alpha["low"] <= alpha["value"] <= alpha["high"]


def test_the_audit_report_carries_the_rankings_section(engine):
    _store_rankings(engine, n_items=5)
    report = run_audit(engine).to_dict()
    assert report["rankings"]["n_items"] == 5
    assert report["counts"]["human_judgments"] == 15 * 6
    from io import StringIO

    from rich.console import Console

    from accord.audit.render_text import print_report

    out = StringIO()
    print_report(report, Console(file=out, width=200))
    assert "Rankings of K responses" in out.getvalue()


def test_no_rankings_no_section(engine):
    assert rank_agreement_section(engine, None, BootstrapConfig(n_resamples=10)) == {}


def test_pairwise_human_intervals_resample_ranked_items_together(engine):
    """The pairwise human–human section sees each expanded judgment as a label of its pair
    (same α as the pairs alone) but resamples the pairs of one ranked item together."""
    from accord.audit.bootstrap import bootstrap_kinds, unit_kinds
    from accord.audit.humans import _NOMINAL, alpha_estimate
    from accord.audit.loader import load_audit_data
    from accord.audit.metrics import alpha_statistic, coincidence_contributions
    from accord.audit.views import AuditViews

    _store_rankings(engine, n_items=10)
    config = BootstrapConfig(n_resamples=300, seed=5)
    data = load_audit_data(engine)
    views = AuditViews.build(data)
    h = views.human
    assert data.pair_item is not None and len(np.unique(data.pair_item)) == 10
    report = run_audit(engine, config=AuditConfig(bootstrap=config)).to_dict()["human_human"]
    assert report["resampling_unit"].startswith("ranked item")
    # the value is the α of the pairs, with or without clusters
    plain = alpha_estimate(h.value_counts, config)
    assert report["alpha"]["value"] == pytest.approx(plain["value"], abs=1e-9)
    assert report["alpha"]["n_units"] == 10  # ten ranked items resampled, not 60 pairs
    # the interval is the bootstrap over items: the same draws by hand
    items = data.pair_item[h.unit_pair]
    contrib = coincidence_contributions(h.value_counts)
    per_item = np.zeros((10, *contrib.shape[1:]))
    np.add.at(per_item, items, contrib)
    kinds, counts = unit_kinds(per_item.reshape(10, -1))
    by_hand = bootstrap_kinds(
        counts,
        kinds.reshape(-1, *contrib.shape[1:]),
        lambda o: alpha_statistic(o, _NOMINAL, "nominal"),
        config,
    ).to_dict()
    assert (report["alpha"]["low"], report["alpha"]["high"]) == (by_hand["low"], by_hand["high"])
