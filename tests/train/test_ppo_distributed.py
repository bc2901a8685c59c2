"""PPO under accelerate + DeepSpeed ZeRO-3 for real: `accelerate launch` with accord's CPU ZeRO-3
config (DeepSpeed's CPU accelerator, one process). Runs only where DeepSpeed is installed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "platform" / "accord" / "train" / "accelerate_configs" / "zero3_cpu.yaml"


def test_ppo_runs_under_deepspeed_zero3(snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path):
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (pip install deepspeed, keeping torch)")
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    out_dir = tmp_path / "ppo"
    env = {**os.environ, "DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu")}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIG),
               "-m", "accord.cli.main", "train", "ppo", "--snapshot", str(snapshot_export),
               "--model", str(tiny_model_dir), "--reward-model", str(tiny_reward_model_dir), "--max-steps", "2",
               "--batch-size", "4", "--mini-batch-size", "2", "--ppo-epochs", "2", "--max-new-tokens", "6",
               "--eval-prompts", "2", "--lr", "1e-3", "--db", train_db, "--output-dir", str(out_dir), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = json.loads(done.stdout[done.stdout.index("{"):])["metrics"]
    assert metrics["distributed"] == "deepspeed-zero3"
    # one engine for policy + value, DeepSpeed inference engines for the frozen models
    assert metrics["model_wrappers"] == "trained: DeepSpeedEngine; reference: DeepSpeedEngine; reward: DeepSpeedEngine"
    assert 0.0 <= metrics["win_rate_vs_ref"] <= 1.0
    # the saved weights are the gathered, whole and trained ones (not ZeRO-3's empty placeholders)
    trained = AutoModelForCausalLM.from_pretrained(out_dir)
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    for (name, after), before in zip(trained.named_parameters(), start.parameters()):
        assert after.shape == before.shape, name
    assert any(not (a == b).all() for a, b in zip(trained.parameters(), start.parameters()))
    value = AutoModelForSequenceClassification.from_pretrained(out_dir / "value_model", num_labels=1)
    assert value.score.weight.shape[0] == 1
