"""PPO across processes for real: DDP over two CPU processes (torchrun, gloo), and accelerate +
DeepSpeed ZeRO-3 (`accelerate launch` with accord's CPU ZeRO-3 config on DeepSpeed's CPU
accelerator, one process; only where DeepSpeed is installed). The adaptive β is updated from the
KL averaged over the ranks, so every rank holds the same β."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = (
    Path(__file__).resolve().parents[2]
    / "platform"
    / "accord"
    / "train"
    / "accelerate_configs"
    / "zero3_cpu.yaml"
)


def test_ppo_runs_under_ddp_on_two_processes(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, tmp_path
):
    from accord.store.db import open_store
    from accord.train.runs import list_runs
    from tests.fixtures.ports import free_port

    db = f"sqlite:///{tmp_path / 'runs.db'}"  # a new store: both processes create it at once
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        "-m",
        "accord.cli.main",
        "train",
        "ppo",
        "--snapshot",
        str(snapshot_export),
        "--model",
        str(tiny_model_dir),
        "--reward-model",
        str(tiny_reward_model_dir),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--mini-batch-size",
        "2",
        "--ppo-epochs",
        "2",
        "--max-new-tokens",
        "6",
        "--eval-prompts",
        "2",
        "--target-kl",
        "0.01",
        "--db",
        db,
        "--output-dir",
        str(tmp_path / "ppo"),
        "--json",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    decoder, marker = json.JSONDecoder(), '{\n  "run_id"'
    starts = [i for i in range(len(done.stdout)) if done.stdout.startswith(marker, i)]
    outputs = [decoder.raw_decode(done.stdout, i)[0] for i in starts]  # one JSON result per process
    assert len(outputs) == 2
    for out in outputs:
        metrics = out["metrics"]
        assert metrics["distributed"] == "ddp" and metrics["num_processes"] == 2
        # policy and value train as one DDP module; the frozen models stay plain
        assert metrics["model_wrappers"].startswith(
            "trained: DistributedDataParallel; reference: Qwen2ForCausalLM"
        )
    # instruments are averaged across processes, so both report the same figures
    assert outputs[0]["metrics"]["final_reward"] == pytest.approx(
        outputs[1]["metrics"]["final_reward"]
    )
    # β scales every rank's rewards: both ranks hold exactly the same one
    assert outputs[0]["metrics"]["final_kl_coef"] == outputs[1]["metrics"]["final_kl_coef"]
    assert outputs[0]["metrics"]["final_kl"] >= 0.0
    # one launch is one run: the main process records it, the other writes nothing
    from accord.store.db import session_scope

    with session_scope(open_store(db)) as session:
        runs = list_runs(session)
    assert len(runs) == 1 and runs[0].status == "completed"
    assert sorted(outputs, key=lambda out: out["run_id"] is None)[0]["run_id"] == runs[0].id
    assert [out["run_id"] for out in outputs].count(None) == 1


_KL_RANKS = """
import json, pathlib, sys
import torch.distributed as dist
from accord.train.kl_controller import AdaptiveKLController, update_across_ranks

dist.init_process_group("gloo")
rank = dist.get_rank()
controller = AdaptiveKLController(init_kl_coef=0.1, target=1.0, horizon=100)
betas = [update_across_ranks(controller, kl, 8) for kl in json.loads(sys.argv[1])[rank]]
pathlib.Path(sys.argv[2], f"rank{rank}.json").write_text(json.dumps(betas))
dist.destroy_process_group()
"""


def test_adaptive_kl_uses_the_cross_rank_mean_on_two_processes(tmp_path):
    """Two gloo ranks whose own KLs differ (one below, one above the target) end every update
    with the same β: the one of the KL averaged over both ranks' samples."""
    from accord.train.kl_controller import AdaptiveKLController
    from tests.fixtures.ports import free_port

    script = tmp_path / "kl_ranks.py"
    script.write_text(_KL_RANKS, encoding="utf-8")
    kls = [[0.9, 1.05, 0.95], [1.1, 1.0, 1.15]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        str(script),
        json.dumps(kls),
        str(tmp_path),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    by_rank = {rank: json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)}
    assert by_rank[0] == by_rank[1]
    expected, own = AdaptiveKLController(0.1, 1.0, 100), AdaptiveKLController(0.1, 1.0, 100)
    want = [expected.update((a + b) / 2, 16) for a, b in zip(*kls, strict=True)]
    assert by_rank[0] == pytest.approx(want, rel=1e-12)
    # what rank 0 would hold from its own KLs (the old update): a different β
    assert [own.update(kl, 16) for kl in kls[0]][-1] != pytest.approx(want[-1], rel=1e-6)


def test_ppo_runs_under_deepspeed_zero3(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    if not os.environ.get(
        "CI"
    ):  # CI installs DeepSpeed (scripts/setup.sh --full): there it must run
        pytest.importorskip(
            "deepspeed", reason="DeepSpeed is not installed (scripts/setup.sh --full)"
        )
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    out_dir = tmp_path / "ppo"
    env = {**os.environ, "DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu")}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CONFIG),
        "-m",
        "accord.cli.main",
        "train",
        "ppo",
        "--snapshot",
        str(snapshot_export),
        "--model",
        str(tiny_model_dir),
        "--reward-model",
        str(tiny_reward_model_dir),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--mini-batch-size",
        "2",
        "--ppo-epochs",
        "2",
        "--max-new-tokens",
        "6",
        "--eval-prompts",
        "2",
        "--lr",
        "1e-3",
        "--db",
        train_db,
        "--output-dir",
        str(out_dir),
        "--json",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = json.loads(done.stdout[done.stdout.index("{") :])["metrics"]
    assert metrics["distributed"] == "deepspeed-zero3"
    # one engine for policy + value, DeepSpeed inference engines for the frozen models
    assert (
        metrics["model_wrappers"]
        == "trained: DeepSpeedEngine; reference: DeepSpeedEngine; reward: DeepSpeedEngine"
    )
    assert 0.0 <= metrics["win_rate_vs_ref"] <= 1.0
    # the saved weights are the gathered, whole and trained ones (not ZeRO-3's empty placeholders)
    trained = AutoModelForCausalLM.from_pretrained(out_dir)
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    for (name, after), before in zip(trained.named_parameters(), start.parameters()):
        assert after.shape == before.shape, name
    assert any(not (a == b).all() for a, b in zip(trained.parameters(), start.parameters()))
    value = AutoModelForSequenceClassification.from_pretrained(
        out_dir / "value_model", num_labels=1
    )
    assert value.score.weight.shape[0] == 1
