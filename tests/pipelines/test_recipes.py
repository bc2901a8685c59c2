"""The classic workflows end to end at tiny scale, each as `accord run pipelines/<name>.yaml`:
InstructGPT (SFT → RM → PPO), DPO with a β sweep, and Constitutional AI (both phases)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from accord.store.db import open_store
from accord.store.models import Judgment, Response, Snapshot, TrainingRun

from .conftest import PIPELINES

pytestmark = pytest.mark.slow


def _runs(db_url: str) -> list[TrainingRun]:
    with Session(open_store(db_url)) as session:
        return list(session.exec(select(TrainingRun).order_by(TrainingRun.id)).all())


def _summary(runner, recipe: str) -> dict:
    return json.loads((runner.home / "reports" / recipe / "summary.json").read_text())


def test_instructgpt_sft_rm_ppo(recipe_runner):
    done = recipe_runner.run(PIPELINES / "instructgpt.yaml")
    assert done.returncode == 0, done.output[-5000:]
    sft, rm, ppo = _runs(recipe_runner.db_url)
    assert (sft.kind, rm.kind, ppo.kind) == ("sft", "rm", "ppo")
    assert all(r.status == "completed" for r in (sft, rm, ppo))
    # the RM starts from the SFT model; PPO starts from it too, with it as the KL reference
    assert rm.base_model == sft.artifact_path and ppo.base_model == sft.artifact_path
    assert ppo.config["reward_model"] == rm.artifact_path and ppo.config["target_kl"] == 1.0
    assert 0.0 <= rm.metrics["rm_heldout_accuracy"] <= 1.0
    for key in ("win_rate_vs_ref", "final_reward", "final_kl", "final_kl_coef"):
        assert key in ppo.metrics, key
    summary = _summary(recipe_runner, "instructgpt")
    ppo_summary = next(r for r in summary["runs"] if r["kind"] == "ppo")
    for key in ("reward/mean", "kl/measured", "kl/coef", "response/length", "policy/entropy"):
        assert key in ppo_summary["last_step"], key
    audit = summary["audits"][0]
    assert [r["run_id"] for r in audit["reward_models"]] == [rm.id]  # RM accuracy in the audit
    assert "reward model held-out accuracy" in done.said
    # no human demonstrations in the store: SFT said it used the chosen responses
    assert [d["data"] for d in summary["sft_data"]] == ["chosen responses"]
    assert "sft: SFT on the chosen responses" in done.said
    with Session(open_store(recipe_runner.db_url)) as s:
        assert {j.kind for j in s.exec(select(Judgment)).all()} == {
            "human"
        }  # the imported comparisons


def test_dpo_beta_sweep_shares_one_reference_cache(recipe_runner):
    done = recipe_runner.run(PIPELINES / "dpo.yaml")
    assert done.returncode == 0, done.output[-5000:]
    runs = _runs(recipe_runner.db_url)
    rm, dpo = runs[0], runs[1:]
    assert rm.kind == "rm" and [r.kind for r in dpo] == ["dpo"] * 4
    assert [r.config["beta"] for r in dpo] == [0.01, 0.05, 0.1, 0.5]
    # one reference pass for the whole sweep: the first run computes, the others hit the cache
    assert [r.metrics["ref_cache_hit"] for r in dpo] == [False, True, True, True]
    assert not any(r.metrics["ref_model_loaded"] for r in dpo[1:])
    for r in dpo:
        assert r.metrics["eval_judge"] == rm.artifact_path
        assert 0.0 <= r.metrics["win_rate_vs_ref"] <= 1.0 and "kl_to_ref" in r.metrics
    assert "win-rate vs KL to the reference per β" in done.said
    with Session(open_store(recipe_runner.db_url)) as s:
        snapshot = s.exec(select(Snapshot)).one()
    assert set(snapshot.manifest["source_mix"]) == {"human", "ai"}  # a mixed snapshot
    summary = _summary(recipe_runner, "dpo")
    assert [row["beta"] for row in summary["sweeps"][0]["sweep"]] == [0.01, 0.05, 0.1, 0.5]
    assert summary["audits"][0]["human_ai"], "the judge also labelled the human-labelled pairs"


def test_constitutional_ai_both_phases(recipe_runner):
    done = recipe_runner.run(PIPELINES / "cai.yaml")
    assert done.returncode == 0, done.output[-5000:]
    sl, pm, rl = _runs(recipe_runner.db_url)
    assert (sl.kind, sl.config["target"]) == ("sft", "revisions")
    assert pm.kind == "rm" and rl.kind == "ppo"
    assert rl.base_model == sl.artifact_path and rl.config["reward_model"] == pm.artifact_path
    with Session(open_store(recipe_runner.db_url)) as s:
        snaps = {x.name: x for x in s.exec(select(Snapshot)).all()}
        judges = {
            (j.judge, j.principle) for j in s.exec(select(Judgment)).all() if j.source == "judge"
        }
        sampled_by = {r.model_id for r in s.exec(select(Response)).all() if r.role == "initial"}
    # the RL-phase pairs are sampled from the SL checkpoint in the same run ({from_step: sl})
    assert sampled_by == {"accord/tiny", sl.artifact_path}
    assert set(snaps) == {"cai-revisions", "cai-ai-preferences"}
    assert sl.snapshot_hash == snaps["cai-revisions"].content_hash
    assert pm.snapshot_hash == snaps["cai-ai-preferences"].content_hash
    assert snaps["cai-ai-preferences"].policy == "soft"
    assert {p for _, p in judges} >= {"harmless", "helpful", "*ensemble*"}  # principle ensemble
