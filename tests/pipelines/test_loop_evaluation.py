"""The closed loop's evaluation pieces on their own: the length-controlled win-rate on data whose
answer is known, the reward model's win rule, the exact KL against the sampled one on the tiny
model, the choice of pairs to escalate, and the round table's cells."""

from __future__ import annotations

import numpy as np
import pytest

from accord.workflows.loop.escalation import EscalateOptions, uncertain_pairs
from accord.workflows.loop.evaluation import reward_preferences
from accord.workflows.loop.length_control import fit_length_model, length_controlled_win_rate
from accord.workflows.loop.table import round_cells, round_table_html


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _constructed(theta0: float, theta1: float, n_prompts: int = 40, samples: int = 4, seed=0):
    """Per prompt and sample: our length minus theirs, and P(ours ≻ theirs) from the model."""
    rng = np.random.default_rng(seed)
    diffs = rng.integers(-30, 31, size=(n_prompts, samples)).astype(float)
    scale = diffs.std()
    prefs = _sigmoid(theta0 + theta1 * np.tanh(diffs / scale))
    return prefs, diffs


def test_lc_recovers_the_intercept_of_the_generating_model():
    prefs, diffs = _constructed(0.8, 1.5)
    fitted = fit_length_model(prefs, diffs)
    assert fitted["intercept"] == pytest.approx(0.8, abs=1e-3)
    assert fitted["slope"] == pytest.approx(1.5, abs=5e-3)  # the small ridge on θ₁ only
    out = length_controlled_win_rate(prefs.tolist(), diffs.tolist(), resamples=300, seed=1)
    assert out["win_rate"] == pytest.approx(float(_sigmoid(0.8)), abs=1e-3)
    assert out["low"] <= out["win_rate"] <= out["high"]
    assert out["n_prompts"] == 40 and out["length_slope"] > 1.0


def test_a_preference_for_length_alone_is_controlled_to_a_coin_flip():
    # the judge only likes longer answers, and ours are longer more often than not
    rng = np.random.default_rng(3)
    diffs = rng.integers(-10, 41, size=(60, 3)).astype(float)
    prefs = _sigmoid(3.0 * np.tanh(diffs / diffs.std()))
    raw = float(prefs.mean())
    out = length_controlled_win_rate(prefs.tolist(), diffs.tolist(), resamples=300, seed=0)
    assert raw > 0.7  # the plain win-rate rewards length
    assert out["win_rate"] == pytest.approx(0.5, abs=1e-3)
    assert out["low"] < 0.5 < out["high"] or out["high"] - out["low"] < 1e-3


def test_lc_with_equal_lengths_is_the_mean_preference_and_skips_missing_judgments():
    prefs = [[0.9, 0.7], [0.6, float("nan")], [0.8, 0.8]]
    diffs = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    out = length_controlled_win_rate(prefs, diffs, resamples=200, seed=0)
    assert out["win_rate"] == pytest.approx(np.mean([0.9, 0.7, 0.6, 0.8, 0.8]), abs=1e-4)
    assert out["length_slope"] == pytest.approx(0.0, abs=1e-9) and out["length_scale"] == 1.0


def test_lc_on_hard_reward_model_outcomes():
    # a reward model's 1 / ½ / 0 outcomes: longer answers win; equal lengths win 3 in 4
    diffs = [[5.0, -5.0, 0.0, 0.0], [5.0, -5.0, 0.0, 0.0]] * 10
    prefs = [[1.0, 0.0, 1.0, 0.5], [1.0, 0.0, 1.0, 1.0]] * 10
    out = length_controlled_win_rate(prefs, diffs, resamples=200, seed=0)
    assert out["length_slope"] > 3.0
    assert out["win_rate"] == pytest.approx(0.875, abs=0.02)


def test_reward_model_win_rule():
    assert reward_preferences([[1.0, 0.2, 0.5]], [[0.5, 0.3, 0.5]]) == [[1.0, 0.0, 0.5]]
    assert np.isnan(reward_preferences([[float("nan")]], [[0.1]])[0][0])


def test_uncertain_pairs_and_escalate_options():
    labels = [(10, 1, 1, 2, 0.92), (11, 1, 1, 3, 0.4), (12, 2, 4, 5, 0.66), (13, 2, 4, 6, 0.5)]
    assert uncertain_pairs(labels, [10, 11, 12, 13], 0.7) == [(13, 0.5), (11, 0.6), (12, 0.66)]
    assert uncertain_pairs(labels, [10, 12], 0.7) == [(12, 0.66)]  # only kept pairs
    assert uncertain_pairs(labels, [10, 11, 12, 13], None, limit=2) == [(13, 0.5), (11, 0.6)]
    with pytest.raises(ValueError, match="exactly one of threshold or target"):
        EscalateOptions(dataset="d")
    with pytest.raises(ValueError, match="exactly one of threshold or target"):
        EscalateOptions(dataset="d", threshold=0.8, target=0.9)
    opts = EscalateOptions(dataset="{recipe}-r{round}", threshold=0.8)
    assert opts.dataset_name(recipe="loopy", step="loop", round_=2) == "loopy-r2"


def test_round_cells_show_rm_lc_kl_and_humans_only_when_present():
    base = {
        "round": 1,
        "vs_initial": {"win_rate": 0.6, "low": 0.5, "high": 0.7, "confidence": 0.9},
        "length": 12.0,
        "kl_to_ref": -0.1,
        "kl_exact": 0.25,
    }
    plain = round_cells([base])
    assert "RM win vs 0 [CI]" not in plain["columns"] and "humans" not in plain["columns"]
    assert "90% CI" in plain["caption"]
    lc = {"win_rate": 0.55, "low": 0.45, "high": 0.65}
    full = {
        **base,
        "vs_initial": {**base["vs_initial"], "lc": lc},
        "rm_vs_initial": {"win_rate": 0.75, "low": 0.5, "high": 1.0},
        "escalation": {"escalated": 3, "labelled": 2},
    }
    cells = round_cells([full])
    row = dict(zip(cells["columns"], cells["rows"][1]))
    assert row["LC win vs 0 [CI]"] == "0.550 [0.450, 0.650]"
    assert row["RM win vs 0 [CI]"] == "0.750 [0.500, 1.000]"
    assert (row["KL to ref"], row["KL exact"], row["humans"]) == ("-0.100", "0.250", "2/3")
    page = round_table_html([full], title="x <y>")
    assert "x &lt;y&gt;" in page and "<th>KL exact</th>" in page


@pytest.mark.slow
def test_exact_kl_is_the_sum_over_the_vocabulary_and_never_negative(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from accord.models.loading import resolve_model_path
    from accord.workflows.loop.evaluation import sample_policy

    tiny = resolve_model_path("accord/tiny")
    same, moved = tmp_path / "same", tmp_path / "moved"
    model = AutoModelForCausalLM.from_pretrained(tiny)
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    model.save_pretrained(same)
    tokenizer.save_pretrained(same)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(moved)
    tokenizer.save_pretrained(moved)
    prompts = ["Tell me about the moon.", "How do plants grow?", "What is rain?"]
    kwargs = dict(samples=8, max_new_tokens=12, temperature=1.0, seed=4)
    copy = sample_policy(str(same), prompts, reference_path=tiny, **kwargs)
    assert copy.kl_exact == pytest.approx(0.0, abs=1e-5)
    assert copy.kl_to_ref == pytest.approx(0.0, abs=1e-4)
    far = sample_policy(str(moved), prompts, reference_path=tiny, **kwargs)
    assert far.kl_exact > 0.0
    # the sampled estimate is unbiased for the exact one: same order of magnitude here
    assert abs(far.kl_to_ref - far.kl_exact) < 0.5 * far.kl_exact + 0.05
    assert [len(t) for t in far.texts] == [8, 8, 8] and len(far.lengths[0]) == 8
    assert all(isinstance(f, bool) for row in far.finished for f in row)


def test_eval_reward_model_mapping_must_name_a_step(tmp_path):
    from accord.constitutions import DocumentError
    from accord.jobs import load_recipe

    path = tmp_path / "bad.yaml"
    path.write_text("""\
name: bad
steps:
  - {kind: import_prompts, bundled: quickstart}
  - {kind: loop, eval_backend: gpu}
  - {kind: loop, name: loop2, eval_reward_model: {model: x}}
  - {kind: loop, name: loop3, snapshot_policy: ai-only, escalate: {dataset: d, threshold: 0.8}}
  - {kind: loop, name: loop4, escalate: {dataset: d, threshold: 0.8, wait: maybe}}
  - {kind: loop, name: loop5, eval_reward_model: {from_step: later}}
  - {kind: train_rm, name: later}
""")
    with pytest.raises(DocumentError) as err:
        load_recipe(path)
    text = str(err.value)
    assert f"{path}:4: steps[1].eval_backend" in text
    assert "from_step 'later' does not run before this step" in text
    assert "eval_reward_model: a mapping here must be {from_step: NAME}" in text
    assert "escalate: snapshot_policy 'ai-only' ignores human labels" in text
    assert "steps[4].escalate.wait" in text


@pytest.mark.slow
def test_round_table_everywhere_with_a_held_out_reward_model(tmp_path, monkeypatch):
    """One round judged by the AI judge and the tiny reward model (a models alias); the round
    table in the job result, `accord runs show --html` and the dashboard's run and job pages."""
    import json
    import subprocess
    import sys

    from accord.jobs import run_recipe
    from accord.store.db import open_store

    from .test_loop import RECIPE

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(url)
    recipe = json.loads(json.dumps(RECIPE))
    recipe["models"]["held-out-rm"] = {"backend": "transformers", "model": "accord/tiny-reward"}
    recipe["steps"][1].update({"rounds": 1, "eval_reward_model": "held-out-rm"})
    result = run_recipe(engine, recipe, progress=False)
    [r] = result.steps["loop"]["rounds"]
    for key in ("vs_initial", "rm_vs_initial"):
        cell = r[key]
        assert 0.0 <= cell["low"] <= cell["win_rate"] <= cell["high"] <= 1.0, key
        assert cell["n_prompts"] == 2 and 0.0 <= cell["lc"]["win_rate"] <= 1.0
    assert r["rm_vs_previous"] == r["rm_vs_initial"]  # round 1: k−1 is round 0
    assert (
        r["kl_exact"] >= 0.0 and r["kl_to_ref"] is not None and r["eval_backend"] == "transformers"
    )
    assert np.isfinite(r["reward"]) and np.isfinite(r["initial_reward"])
    row = dict(zip(*(lambda c: (c["columns"], c["rows"][1]))(round_cells([r]))))
    rm_cell = row["RM win vs 0 [CI]"]

    page = tmp_path / "run.html"
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli.main",
            "runs",
            "show",
            str(r["run_id"]),
            "--db",
            url,
            "--html",
            str(page),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert json.loads(shown.stdout)["loop_rounds"][0]["run_id"] == r["run_id"]
    text = page.read_text()
    assert '<table class="rounds">' in text and "<th>RM win vs 0 [CI]</th>" in text
    assert f"<td>{rm_cell}</td>" in text and "<td>loopy-round-1</td>" in text

    from fastapi.testclient import TestClient

    from accord.service.app import create_app
    from accord.service.config import ServiceSettings
    from accord.service.users import create_user
    from accord.store.db import session_scope

    with session_scope(engine) as session:
        _, token = create_user(session, name="viewer-1", role="viewer")
    settings = ServiceSettings(database_url=url, home=tmp_path / "home")
    with TestClient(create_app(settings, engine=engine)) as client:
        client.cookies.set(settings.cookie_name, token)
        for path in (f"/runs/{r['run_id']}", f"/jobs/{result.job_id}"):
            html = client.get(path).text
            assert 'class="loop-rounds"' in html and "RM win vs 0 [CI]" in html, path
            assert f"<td>{rm_cell}</td>" in html and "<td>loopy-round-1</td>" in html, path
