"""PPO step time and peak memory: accord's PPO vs trl 1.12's PPOTrainer on the same model and
batch; and PPO rollouts with vLLM vs transformers generate.

Why: trl removed its PPOTrainer after 1.12; accord's replacement must be no slower and use no
more memory. trl 1.12 cannot live in accord's environment (it pins older libraries), so this
script creates its own venv under bench/results/trl112-venv (gitignored) the first time:
``pip install torch==2.13.0`` then ``pip install 'trl==1.12.*'``.

    python bench/bench_ppo.py                 # tiny models, 6 steps, batch 8
    python bench/bench_ppo.py --skip-trl      # accord only (+ vLLM rollouts when vllm imports)

Both trainers use: policy = ref = accord/tiny, reward = value = accord/tiny-reward, rollout batch
8, minibatch 4, 4 PPO epochs, 16 new tokens, fixed KL coefficient 0.05.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "results" / "ppo-work"  # gitignored
TRL_VENV = ROOT / "bench" / "results" / "trl112-venv"

TRL_CHILD = r'''
import json, resource, sys, time
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
try:
    from trl.experimental.ppo import PPOConfig, PPOTrainer
except ImportError:
    from trl import PPOConfig, PPOTrainer

policy_path, reward_path, prompts_file, steps, batch, mini, epochs, new_tokens, out = sys.argv[1:10]
steps, batch, mini, epochs, new_tokens = map(int, (steps, batch, mini, epochs, new_tokens))
tok = AutoTokenizer.from_pretrained(policy_path, padding_side="left")
prompts = json.load(open(prompts_file))
ds = Dataset.from_dict({"input_ids": [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]})
args = PPOConfig(output_dir=out, per_device_train_batch_size=mini, gradient_accumulation_steps=1,
                 num_mini_batches=batch // mini, local_rollout_forward_batch_size=batch,
                 total_episodes=steps * batch, num_ppo_epochs=epochs, response_length=new_tokens,
                 kl_coef=0.05, learning_rate=1e-5, report_to="none", bf16=False, save_strategy="no",
                 dataloader_pin_memory=False, stop_token="eos", missing_eos_penalty=None,
                 logging_steps=1, num_sample_generations=0, seed=0)
args.batch_size = batch
policy = AutoModelForCausalLM.from_pretrained(policy_path)
ref = AutoModelForCausalLM.from_pretrained(policy_path)
reward = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1)
value = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
trainer = PPOTrainer(args=args, processing_class=tok, model=policy, ref_model=ref, reward_model=reward,
                     value_model=value, train_dataset=ds)
t0 = time.perf_counter()
trainer.train()
total = time.perf_counter() - t0
print(json.dumps({"total_seconds": total, "step_seconds": total / steps, "baseline_mb": baseline,
                  "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def prompts_file() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "prompts.json"
    topics = ["photosynthesis", "volcanoes", "compound interest", "sleep hygiene", "black holes", "vaccines",
              "the water cycle", "electric cars"]
    path.write_text(json.dumps([f"Can you explain {t} in simple terms?" for t in topics] * 4))
    return path


def accord_child(args) -> dict:
    from accord.train.data import write_export
    from accord.train.ppo import PPOTrainConfig, train_ppo

    prompts = json.loads(prompts_file().read_text())
    rows = [{"prompt": p, "chosen": "yes", "rejected": "no"} for p in prompts]
    folder = write_export(WORK / "snapshot", name="bench-ppo", train=rows, test=rows[:8])
    config = PPOTrainConfig(snapshot=str(folder), model=args.policy, reward_model=args.reward, max_steps=args.steps,
                            rollout_batch_size=args.batch, mini_batch_size=args.mini, ppo_epochs=args.epochs,
                            max_new_tokens=args.new_tokens, kl_coef=0.05, learning_rate=1e-5, save_model=False,
                            eval_prompts=8, rollout_engine=args.engine, db_url=f"sqlite:///{WORK / 'bench.db'}",
                            output_dir=str(WORK / "out"))
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    # same libraries and the same four models resident as in the trl child, before training
    models = [AutoModelForCausalLM.from_pretrained(args.policy) for _ in range(2)]
    models += [AutoModelForSequenceClassification.from_pretrained(args.reward, num_labels=1) for _ in range(2)]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del models
    t0 = time.perf_counter()
    result = train_ppo(config)
    total = time.perf_counter() - t0
    steps = [h["time/step_seconds"] for h in result.history]
    rollouts = [h["time/rollout_seconds"] for h in result.history]
    return {"total_seconds": total, "step_seconds": sum(steps) / len(steps), "baseline_mb": baseline,
            "rollout_seconds": sum(rollouts[1:] or rollouts) / len(rollouts[1:] or rollouts),
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ensure_trl_venv() -> Path:
    python = TRL_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import trl"], capture_output=True, check=False).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(TRL_VENV)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "trl==1.12.*"], check=True)
    return python


def run(cmd: list[str], env=None) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd[:4])} …")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--mini", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--engine", default="transformers")
    parser.add_argument("--policy")
    parser.add_argument("--reward")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(accord_child(args)))
        return

    from accord.models.tiny import ensure_tiny_model

    policy, reward = str(ensure_tiny_model("causal")), str(ensure_tiny_model("reward"))
    base = [sys.executable, __file__, "--child", "--policy", policy, "--reward", reward, "--steps", str(args.steps),
            "--batch", str(args.batch), "--mini", str(args.mini), "--epochs", str(args.epochs),
            "--new-tokens", str(args.new_tokens)]
    env = {"ACCORD_HOME": str(WORK / "home")}
    ours = run(base + ["--engine", "transformers"], env)
    print(f"accord PPO: {ours['step_seconds']:.3f} s/step, peak {ours['peak_memory_mb']:.0f} MB")
    if not args.skip_trl:
        python = ensure_trl_venv()
        script = WORK / "trl112_ppo.py"
        script.write_text(TRL_CHILD)
        theirs = run([str(python), str(script), policy, reward, str(prompts_file()), str(args.steps), str(args.batch),
                      str(args.mini), str(args.epochs), str(args.new_tokens), str(WORK / "trl-out")])
        print(f"{'':26}{'accord':>10}{'trl 1.12':>10}{'trl/accord':>12}")
        print(f"{'PPO step (s)':26}{ours['step_seconds']:10.3f}{theirs['step_seconds']:10.3f}"
              f"{theirs['step_seconds'] / ours['step_seconds']:12.2f}x")
        print(f"{'peak memory (MB)':26}{ours['peak_memory_mb']:10.0f}{theirs['peak_memory_mb']:10.0f}"
              f"{theirs['peak_memory_mb'] / ours['peak_memory_mb']:12.2f}x")
        print(f"{'  of which before training':26}{ours['baseline_mb']:10.0f}{theirs['baseline_mb']:10.0f}")
        grown_ours = ours['peak_memory_mb'] - ours['baseline_mb']
        grown_theirs = theirs['peak_memory_mb'] - theirs['baseline_mb']
        print(f"{'  growth while training':26}{grown_ours:10.0f}{grown_theirs:10.0f}"
              f"{grown_theirs / max(grown_ours, 1.0):12.2f}x")
    try:
        import vllm  # noqa: F401
    except (ImportError, RuntimeError, OSError):
        print("vllm not importable: rollout comparison skipped")
        return
    with_vllm = run(base + ["--engine", "vllm"], {**env, "VLLM_CPU_OMP_THREADS_BIND": "0-1",
                                                     "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"})
    print(f"{'':26}{'transformers':>14}{'vllm':>10}{'ratio':>8}")
    print(f"{'rollout (s, per step)':26}{ours['rollout_seconds']:14.3f}{with_vllm['rollout_seconds']:10.3f}"
          f"{ours['rollout_seconds'] / with_vllm['rollout_seconds']:8.2f}x")
    print(f"{'PPO step (s)':26}{ours['step_seconds']:14.3f}{with_vllm['step_seconds']:10.3f}"
          f"{ours['step_seconds'] / with_vllm['step_seconds']:8.2f}x")


if __name__ == "__main__":
    main()
