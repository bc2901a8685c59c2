"""accord's PPO on the tiny models: instruments recorded per step, adaptive KL, reward goes up."""

import pytest

from accord.store.db import open_store, session_scope
from accord.train.ppo import PPOTrainConfig, train_ppo
from accord.train.runs import get_run, list_metrics

pytestmark = pytest.mark.slow

INSTRUMENTS = [
    "reward/mean",
    "kl/measured",
    "kl/k1",
    "kl/coef",
    "response/length",
    "policy/entropy",
    "policy/clipfrac",
    "loss/value",
    "loss/policy",
    "value/clipfrac",
    "policy/approxkl",
]


def test_ppo_records_instruments_and_adapts_kl(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    config = PPOTrainConfig(
        snapshot=str(snapshot_export),
        model=str(tiny_model_dir),
        reward_model=str(tiny_reward_model_dir),
        db_url=train_db,
        output_dir=str(tmp_path / "ppo"),
        max_steps=4,
        rollout_batch_size=4,
        mini_batch_size=2,
        ppo_epochs=2,
        max_new_tokens=8,
        learning_rate=1e-4,
        kl_coef=0.1,
        target_kl=50.0,
        kl_horizon=100,
        eval_every=2,
        eval_prompts=4,
        save_model=False,
    )
    result = train_ppo(config)
    assert len(result.history) == 4
    for row in result.history:
        for name in INSTRUMENTS:
            assert name in row, name
    assert 0.0 <= result.metrics["win_rate_vs_ref"] <= 1.0
    assert "eval/win_rate_vs_ref" in result.history[1]
    # the recorded KL is the exact one from the logits: never negative, unlike the sampled k1
    assert all(row["kl/measured"] >= 0.0 for row in result.history)
    assert result.metrics["final_kl"] >= 0.0 and "final_kl_k1" in result.metrics
    # measured KL far below the target: the coefficient must come down every step
    coefs = [row["kl/coef"] for row in result.history] + [result.metrics["final_kl_coef"]]
    assert all(b < a for a, b in zip(coefs, coefs[1:]))
    with session_scope(open_store(train_db)) as s:
        run = get_run(s, run=result.run_id)
        assert run.kind == "ppo" and run.status == "completed"
        steps = list_metrics(s, run_id=run.id)
        assert [m.step for m in steps] == [1, 2, 3, 4]
        assert all("kl/measured" in m.values for m in steps)


def test_ppo_raises_reward(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    config = PPOTrainConfig(
        snapshot=str(snapshot_export),
        model=str(tiny_model_dir),
        reward_model=str(tiny_reward_model_dir),
        db_url=train_db,
        output_dir=str(tmp_path / "ppo"),
        max_steps=8,
        rollout_batch_size=8,
        mini_batch_size=8,
        ppo_epochs=2,
        max_new_tokens=4,
        learning_rate=3e-3,
        kl_coef=0.01,
        save_model=False,
        seed=1,
    )
    result = train_ppo(config)
    rewards = [row["reward/mean"] for row in result.history]
    assert sum(rewards[-3:]) / 3 > sum(rewards[:3]) / 3


_VLLM_PPO = """
import json, sys
from accord.train.ppo import PPOTrainConfig, train_ppo
args = json.loads(sys.argv[1])
result = train_ppo(PPOTrainConfig(**args))
print("RESULT " + json.dumps({"engine": result.metrics["rollout_engine"],
                              "lengths": [row["response/length"] for row in result.history]}))
"""


@pytest.mark.vllm
def test_ppo_with_vllm_rollouts(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    """In its own process: an in-process vLLM engine keeps global state that another engine
    created earlier in the same test process (the backend tests) would share."""
    import json
    import subprocess
    import sys

    pytest.importorskip("vllm")
    args = dict(
        snapshot=str(snapshot_export),
        model=str(tiny_model_dir),
        reward_model=str(tiny_reward_model_dir),
        db_url=train_db,
        output_dir=str(tmp_path / "ppo"),
        max_steps=2,
        rollout_batch_size=4,
        mini_batch_size=4,
        ppo_epochs=1,
        max_new_tokens=6,
        rollout_engine="vllm",
        eval_prompts=4,
        save_model=False,
    )
    out = subprocess.run(
        [sys.executable, "-c", _VLLM_PPO, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    assert result["engine"] == "vllm" and len(result["lengths"]) == 2
    assert all(length >= 1 for length in result["lengths"])


def test_ppo_refuses_k3_in_the_reward():
    # k3 as a per-token reward penalty converges to the wrong policy (tests/train/test_bandit.py)
    with pytest.raises(ValueError, match="'k3' cannot be used in the reward"):
        PPOTrainConfig(snapshot="s", kl_estimator="k3")
    with pytest.raises(ValueError, match="unknown KL estimator 'k2'"):
        PPOTrainConfig(snapshot="s", kl_estimator="k2")
    assert PPOTrainConfig(snapshot="s").kl_estimator == "k1"
