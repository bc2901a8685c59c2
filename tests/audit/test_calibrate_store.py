"""`accord calibrate` on a real store (SQLite and PostgreSQL): the map fitted on the pairs with
both labels, figures out of sample, versions and idempotency, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from accord.audit.calibrate import calibrate_judge, calibration_map
from accord.audit.calibration_data import CalibrationDataError, JudgeSelection, load_labelled_pairs
from accord.cli.main import app
from accord.hashing import content_hash
from accord.store.crud.constitutions import upsert_constitution
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope

JUDGE = "judge-overconfident"
N_PAIRS = 160
N_HUMAN = 140  # the last pairs have AI labels only


def _build(url: str) -> dict:
    """An overconfident judge: truth = σ(0.4 · logit(p)); two annotators who agree."""
    rng = np.random.default_rng(0)
    engine = open_store(url)
    p = rng.uniform(0.03, 0.97, N_PAIRS)
    truth = 1 / (1 + np.exp(-0.4 * np.log(p / (1 - p))))
    human_a = rng.uniform(size=N_PAIRS) < truth
    const = content_hash("constitution", "calib", "1")
    with session_scope(engine) as s:
        row = upsert_constitution(s, name="calib", version="1", content_hash=const, text="p: x")
        pairs = []
        for i in range(N_PAIRS):
            prompt = upsert_prompt(s, text=f"question {i}")
            x = upsert_response(s, prompt=prompt, text=f"answer one {i}")
            y = upsert_response(s, prompt=prompt, text=f"answer two {i}")
            pair = upsert_pair(s, response_x=x, response_y=y, source="test")
            pairs.append(pair)
            common = {
                "pair": pair,
                "kind": "ai",
                "judge": JUDGE,
                "constitution_hash": const,
                "constitution_id": row.id,
            }
            for order, shift in (("ab", 0.02), ("ba", -0.02)):
                q = float(np.clip(p[i] + shift, 0.01, 0.99))
                upsert_judgment(
                    s,
                    **common,
                    preferred="a" if q > 0.5 else "b",
                    prob_a=q,
                    presentation_order=order,
                    principle="helpful",
                )
            upsert_judgment(
                s,
                **common,
                preferred="a" if p[i] > 0.5 else "b",
                prob_a=float(p[i]),
                presentation_order="agg",
                principle="helpful",
                is_aggregate=True,
            )
            if i < N_HUMAN:
                label = "a" if human_a[i] else "b"
                for who in ("ann", "bea"):
                    upsert_judgment(s, pair=pair, kind="human", judge=who, preferred=label)
        pair_ids = [pr.id for pr in pairs]
    return {"engine": engine, "pair_ids": pair_ids, "p": p, "human_a": human_a, "const": const}


@pytest.fixture
def store(db_url):
    return _build(db_url)


def test_loads_soft_labels_and_human_majority(store):
    data = load_labelled_pairs(store["engine"], JudgeSelection(judge=JUDGE))
    assert data.labelled.sum() == N_HUMAN
    np.testing.assert_allclose(data.prob, store["p"], atol=1e-9)
    np.testing.assert_array_equal(data.outcome[:N_HUMAN], store["human_a"][:N_HUMAN].astype(int))
    per_principle = load_labelled_pairs(
        store["engine"], JudgeSelection(judge=JUDGE, principle="helpful")
    )
    # Mean of the two orders (+0.02 and -0.02 around p, inside the clip).
    inside = (store["p"] > 0.03) & (store["p"] < 0.97)
    np.testing.assert_allclose(per_principle.prob[inside], store["p"][inside], atol=1e-9)


def test_calibrate_improves_out_of_sample_and_is_idempotent_and_versioned(store, db_url):
    engine = store["engine"]
    first = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=200)
    row = first.calibration
    assert first.created and row.version == 1 and row.n == N_HUMAN
    assert row.params["temperature"] > 1.5  # the judge is overconfident
    assert row.ece_after < row.ece_before and row.brier_after < row.brier_before
    assert set(row.report["reliability"]) == {"before", "after"}
    again = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=200)
    assert not again.created and again.calibration.id == row.id
    # A changed human label makes the next version, with another label-set hash.
    with session_scope(engine) as s:
        from accord.store.crud.pairs import get_pair

        pair = get_pair(s, pair_id=store["pair_ids"][0])
        flipped = "b" if store["human_a"][0] else "a"
        for who in ("ann", "bea"):
            upsert_judgment(s, pair=pair, kind="human", judge=who, preferred=flipped)
    second = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=200)
    assert second.created and second.calibration.version == 2
    assert second.calibration.human_label_hash != row.human_label_hash
    # The stored map rebuilds the fitted one.
    cmap = calibration_map(second.calibration)
    assert cmap.apply([0.5])[0] == pytest.approx(0.5)


def test_cli_calibrate_json_and_list(store, db_url):
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "calibrate",
            "--judge",
            JUDGE,
            "--method",
            "isotonic",
            "--constitution",
            "calib",
            "--db",
            db_url,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout)
    assert record["method"] == "isotonic" and record["constitution_hash"] == store["const"]
    assert record["created"] is True and record["ece_after"] < record["ece_before"]
    listed = json.loads(runner.invoke(app, ["calibrate", "list", "--db", db_url, "--json"]).stdout)
    assert [r["id"] for r in listed] == [record["id"]]
    text = runner.invoke(app, ["calibrate", "--judge", JUDGE, "--db", db_url])
    assert text.exit_code == 0 and "ECE" in text.stdout and "--calibration" in text.stdout


def test_clear_errors(store, db_url):
    engine = store["engine"]
    with pytest.raises(CalibrationDataError, match="no AI soft labels"):
        calibrate_judge(engine, judge="nobody")
    with pytest.raises(CalibrationDataError, match="no constitution 'nope'"):
        calibrate_judge(engine, judge=JUDGE, constitution="nope")
    with pytest.raises(CalibrationDataError, match="unknown method"):
        calibrate_judge(engine, judge=JUDGE, method="beta")
    runner = CliRunner()
    bad = runner.invoke(app, ["calibrate", "--judge", "nobody", "--db", db_url])
    assert bad.exit_code == 1 and "no AI soft labels" in bad.stderr
    missing = runner.invoke(app, ["calibrate", "--db", db_url])
    assert missing.exit_code == 2 and "--judge is required" in missing.stderr


def test_too_few_human_labels_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'few.db'}"
    engine = open_store(url)
    with session_scope(engine) as s:
        for i in range(5):
            prompt = upsert_prompt(s, text=f"q{i}")
            pair = upsert_pair(
                s,
                response_x=upsert_response(s, prompt=prompt, text="x"),
                response_y=upsert_response(s, prompt=prompt, text="y"),
            )
            upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge=JUDGE,
                preferred="a",
                prob_a=0.8,
                presentation_order="agg",
                is_aggregate=True,
            )
            upsert_judgment(s, pair=pair, kind="human", judge="ann", preferred="a")
    with pytest.raises(CalibrationDataError, match="5 pairs carry both"):
        calibrate_judge(engine, judge=JUDGE)


def test_escalate_certifies_and_lists_uncertain_ai_only_pairs(store, db_url):
    from accord.audit.escalate import certify_judge

    engine = store["engine"]
    result = certify_judge(engine, judge=JUDGE, target=0.55, delta=0.2)
    cert = result.certificate
    assert cert.n_calibration == N_HUMAN and cert.threshold is not None
    assert result.n_ai_only == N_PAIRS - N_HUMAN
    assert len(result.kept_pair_ids) + len(result.escalate_pair_ids) == result.n_ai_only
    conf = np.maximum(store["p"], 1 - store["p"])
    ai_only = np.arange(N_HUMAN, N_PAIRS)
    expected_kept = [store["pair_ids"][i] for i in ai_only if conf[i] >= cert.threshold]
    assert sorted(result.kept_pair_ids) == sorted(expected_kept) and expected_kept
    assert result.escalate_confidence == sorted(result.escalate_confidence)
    # Out of reach: nothing certified, every AI-only pair escalated.
    none = certify_judge(engine, judge=JUDGE, target=0.99, delta=0.05)
    assert none.certificate.threshold is None and none.coverage == 0.0
    assert len(none.escalate_pair_ids) == N_PAIRS - N_HUMAN
    # With a temperature calibration the certified set is the same (order kept).
    cal = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=50)
    calibrated = certify_judge(
        engine, judge=JUDGE, target=0.55, delta=0.2, calibration_id=cal.calibration.id
    )
    assert calibrated.certificate.n_kept == cert.n_kept
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "escalate",
            "--judge",
            JUDGE,
            "--target",
            "0.55",
            "--delta",
            "0.2",
            "--db",
            db_url,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout)
    assert record["n_ai_only"] == N_PAIRS - N_HUMAN and record["target"] == 0.55
    assert record["threshold"] == cert.threshold and record["kept"] == len(expected_kept)
    assert record["escalate_pair_ids"] == result.escalate_pair_ids
    text = runner.invoke(
        app, ["escalate", "--judge", JUDGE, "--target", "0.99", "--delta", "0.05", "--db", db_url]
    )
    assert text.exit_code == 0 and "no threshold can be certified" in text.stdout
    wrong = runner.invoke(
        app,
        ["escalate", "--judge", JUDGE, "--target", "0.7", "--calibration", "999", "--db", db_url],
    )
    assert wrong.exit_code == 1 and "no calibration 999" in wrong.stderr
