"""PPO step time and memory: accord's PPO vs trl 1.12's PPOTrainer on the same models and batch;
and PPO rollouts with vLLM vs transformers generate.

Why: trl removed its PPOTrainer after 1.12; accord's replacement must be no slower and use no
more memory. trl 1.12 cannot live in accord's environment (it pins older libraries), so this
script creates its own venv under bench/results/trl112-venv (gitignored) the first time:
``pip install torch==2.13.0`` then ``pip install 'trl==1.12.*'``. accord runs twice: in the
environment running this script (a development install: test tools such as scikit-learn, and
vLLM, are installed there, and transformers imports scikit-learn when it is installed) and in
a user install, bench/results/accord-user-venv (``pip install -e .`` with no extras, built the
first time; ``--no-user-venv`` skips it).

    python bench/bench_ppo.py                        # tiny and "small" shapes, 4 steps, batch 8
    python bench/bench_ppo.py --shapes small --steps 6
    python bench/bench_ppo.py --shapes "" --vllm-shapes 0.5b --steps 3  # rollouts, 0.5B shape
    python bench/bench_ppo.py --skip-trl --shapes tiny   # accord only (+ vLLM rollouts if
                                                         # vllm imports)

Shapes: ``tiny`` = accord/tiny (policy, reference) and accord/tiny-reward (reward, value),
≈ 0.5M parameters each; ``small`` = random-weights Qwen2-shaped models with hidden 512,
4 layers, vocabulary 32,000 (≈ 29M parameters each, tied embeddings), where weights, optimizer
state, activations and logits dominate. Both trainers: policy = reference, reward = value, rollout
batch 8, minibatch 4 (trl's ``local_rollout_forward_batch_size`` = 4 as well, its own
memory-saving setting), 4 PPO epochs, 16 new tokens, fixed KL coefficient 0.05, float32
(``BENCH_PPO_BF16=1`` in the environment: bf16 for both, as bench/gpu/ runs them; on a GPU the
children also report peak CUDA allocation, ``gpu_peak_mb``).

Memory is the resident set (``VmRSS``; peak = ``ru_maxrss``) at three points: after the imports a
training command makes before loading models, after the four models are loaded (accord: also
prepared, i.e. the trainer's ``memory_after_load_mb``), and the peak over training. "Peak over
load" = peak − after-load: training state (optimizer, gradients, activations, logits, rollouts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "results" / "ppo-work"  # gitignored
TRL_VENV = ROOT / "bench" / "results" / "trl112-venv"
USER_VENV = ROOT / "bench" / "results" / "accord-user-venv"
SMALL_SHAPE = {"hidden": 512, "layers": 4, "vocab": 32000}
# Qwen2.5-0.5B's architecture (896 hidden, 24 layers, 14 heads, 2 KV heads, 4864 MLP) with a
# 32,000-row vocabulary instead of 151,936 (≈ 0.39B parameters per model, four models).
SHAPES = {
    "small": SMALL_SHAPE,
    "0.5b": {"hidden": 896, "layers": 24, "vocab": 32000, "kv_heads": 2, "intermediate": 4864},
}


def _over_load(figures: dict) -> float:
    """Peak RSS above what loading the models took: the training state's memory."""
    return figures["peak_mb"] - figures["after_load_mb"]


RSS = r"""
def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
def peak_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def gpu_peak_mb():
    import torch
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
import os
BF16 = os.environ.get("BENCH_PPO_BF16") == "1"
"""

TRL_CHILD = (
    RSS
    + r"""
import json, sys, time
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
try:
    from trl.experimental.ppo import PPOConfig, PPOTrainer
except ImportError:
    from trl import PPOConfig, PPOTrainer
after_imports = rss_mb()

policy_path, reward_path, prompts_file, steps, batch, mini, epochs, new_tokens, out = sys.argv[1:10]
steps, batch, mini, epochs, new_tokens = map(int, (steps, batch, mini, epochs, new_tokens))
tok = AutoTokenizer.from_pretrained(policy_path, padding_side="left")
prompts = json.load(open(prompts_file))
ds = Dataset.from_dict(
    {"input_ids": [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]}
)
args = PPOConfig(output_dir=out, per_device_train_batch_size=mini, gradient_accumulation_steps=1,
                 num_mini_batches=batch // mini, local_rollout_forward_batch_size=mini,
                 total_episodes=steps * batch, num_ppo_epochs=epochs, response_length=new_tokens,
                 kl_coef=0.05, learning_rate=1e-5, report_to="none", bf16=BF16, save_strategy="no",
                 dataloader_pin_memory=False, stop_token="eos", missing_eos_penalty=None,
                 logging_steps=1, num_sample_generations=0, seed=0)
args.batch_size = batch
policy = AutoModelForCausalLM.from_pretrained(policy_path)
ref = AutoModelForCausalLM.from_pretrained(policy_path)
reward = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1)
value = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1)
after_load = rss_mb()
trainer = PPOTrainer(args=args, processing_class=tok, model=policy, ref_model=ref,
                     reward_model=reward, value_model=value, train_dataset=ds)
t0 = time.perf_counter()
trainer.train()
total = time.perf_counter() - t0
print(json.dumps({"total_seconds": total, "step_seconds": total / steps,
                  "after_imports_mb": after_imports, "after_load_mb": after_load,
                  "peak_mb": peak_mb(), "gpu_peak_mb": gpu_peak_mb()}))
"""
)

ACCORD_CHILD = (
    RSS
    + r"""
import json, sys, time
from accord.train.data import write_export
from accord.train.ppo import PPOTrainConfig, train_ppo
after_imports = rss_mb()

policy, reward, prompts_file, steps, batch, mini, epochs, new_tokens, engine, work = sys.argv[1:11]
prompts = json.load(open(prompts_file))
rows = [{"prompt": p, "chosen": "yes", "rejected": "no"} for p in prompts]
folder = write_export(f"{work}/snapshot-{engine}", name="bench-ppo", train=rows, test=rows[:8])
config = PPOTrainConfig(snapshot=str(folder), model=policy, reward_model=reward,
                        max_steps=int(steps), rollout_batch_size=int(batch),
                        mini_batch_size=int(mini), ppo_epochs=int(epochs),
                        max_new_tokens=int(new_tokens), kl_coef=0.05, learning_rate=1e-5,
                        save_model=False, eval_prompts=8, rollout_engine=engine, bf16=BF16,
                        db_url=f"sqlite:///{work}/bench.db", output_dir=f"{work}/out")
t0 = time.perf_counter()
result = train_ppo(config)
total = time.perf_counter() - t0
steps_s = [h["time/step_seconds"] for h in result.history]
rollouts = [h["time/rollout_seconds"] for h in result.history]
later = rollouts[1:] or rollouts
print(json.dumps({"total_seconds": total, "step_seconds": sum(steps_s) / len(steps_s),
                  "rollout_seconds": sum(later) / len(later), "after_imports_mb": after_imports,
                  "after_load_mb": result.metrics["memory_after_load_mb"], "peak_mb": peak_mb(),
                  "step_peaks_mb": [h["memory/peak_mb"] for h in result.history],
                  "gpu_peak_mb": gpu_peak_mb()}))
"""
)


def prompts_file() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "prompts.json"
    topics = [
        "photosynthesis",
        "volcanoes",
        "compound interest",
        "sleep hygiene",
        "black holes",
        "vaccines",
        "the water cycle",
        "electric cars",
    ]
    path.write_text(json.dumps([f"Can you explain {t} in simple terms?" for t in topics] * 4))
    return path


def build_small_models(
    hidden: int,
    layers: int,
    vocab: int,
    kv_heads: int | None = None,
    intermediate: int | None = None,
) -> tuple[Path, Path]:
    """Random-weights Qwen2-shaped policy and reward models with accord's tiny tokenizer; the
    vocabulary is padded to ``vocab`` rows so the LM head costs what a real one does."""
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Qwen2Config,
    )

    from accord.models.tiny import ensure_tiny_model

    folders = (
        WORK / f"qwen2-h{hidden}-l{layers}-v{vocab}-causal",
        WORK / f"qwen2-h{hidden}-l{layers}-v{vocab}-reward",
    )
    if all((f / "config.json").is_file() for f in folders):
        return folders
    tok = AutoTokenizer.from_pretrained(ensure_tiny_model("causal"))
    config = Qwen2Config(
        vocab_size=max(vocab, len(tok)),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=kv_heads or max(1, hidden // 128),
        intermediate_size=intermediate or hidden * 4,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        tie_word_embeddings=True,
        num_labels=1,
    )
    torch.manual_seed(0)
    for folder, cls in zip(folders, (AutoModelForCausalLM, AutoModelForSequenceClassification)):
        cls.from_config(config).save_pretrained(folder)
        tok.save_pretrained(folder)
    return folders


def ensure_venv(venv: Path, *packages: str, editable: Path | None = None) -> Path:
    python = venv / "bin" / "python"
    probe = "import accord.train.ppo" if editable else "import trl"
    if (
        python.exists()
        and subprocess.run([python, "-c", probe], capture_output=True, check=False).returncode == 0
    ):
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
    if packages:
        subprocess.run([python, "-m", "pip", "install", "-q", *packages], check=True)
    if editable:
        constraint = venv / "torch-constraint.txt"
        constraint.write_text("torch==2.13.0\n")
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "-e", str(editable), "-c", str(constraint)],
            check=True,
        )
    return python


def run(cmd: list, env=None) -> dict:
    out = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(str(c) for c in cmd[:4])} …")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_memory_table(shape: str, results: dict[str, dict]) -> None:
    names = list(results)
    print(f"\n[{shape}] load average {load_average()}")
    print(f"{'':30}" + "".join(f"{n:>16}" for n in names))
    rows = [
        ("PPO step (s)", "step_seconds", "{:16.3f}"),
        ("RSS after imports (MB)", "after_imports_mb", "{:16.0f}"),
        ("RSS after model load (MB)", "after_load_mb", "{:16.0f}"),
        ("peak RSS (MB)", "peak_mb", "{:16.0f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:30}" + "".join(fmt.format(results[n][key]) for n in names))
    print(
        f"{'peak over load (MB)':30}"
        + "".join(f"{results[n]['peak_mb'] - results[n]['after_load_mb']:16.0f}" for n in names)
    )
    if "trl 1.12" in results:
        trl = results["trl 1.12"]
        for n in names:
            if n == "trl 1.12":
                continue
            ours = results[n]
            print(
                f"  {n} vs trl 1.12: step {trl['step_seconds'] / ours['step_seconds']:.2f}x "
                "faster, "
                f"peak RSS {ours['peak_mb'] / trl['peak_mb']:.3f}x, peak over load "
                f"{_over_load(ours) / max(_over_load(trl), 1.0):.3f}x "
                "(< 1: accord uses less)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shapes", default="tiny,small", help="Comma-separated: tiny, small, 0.5b ('' for none)."
    )
    parser.add_argument(
        "--vllm-shapes",
        default="tiny",
        help="Shapes of the vLLM vs transformers rollout comparison (comma-separated).",
    )
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--mini", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument(
        "--no-user-venv", action="store_true", help="Skip accord in a user install."
    )
    parser.add_argument("--skip-vllm", action="store_true")
    args = parser.parse_args()

    from accord.models.tiny import ensure_tiny_model

    WORK.mkdir(parents=True, exist_ok=True)
    accord_script, trl_script = WORK / "accord_ppo.py", WORK / "trl112_ppo.py"
    accord_script.write_text(ACCORD_CHILD)
    trl_script.write_text(TRL_CHILD)
    env = {"ACCORD_HOME": str(WORK / "home")}
    pythons = {"accord (dev env)": Path(sys.executable)}
    if not args.no_user_venv:
        pythons["accord (user env)"] = ensure_venv(USER_VENV, editable=ROOT)
    trl_python = None if args.skip_trl else ensure_venv(TRL_VENV, "trl==1.12.*")
    common = [prompts_file(), args.steps, args.batch, args.mini, args.epochs, args.new_tokens]
    tiny = str(ensure_tiny_model("causal")), str(ensure_tiny_model("reward"))

    def models(shape: str) -> tuple[str, str]:
        if shape == "tiny":
            return tiny
        if shape not in SHAPES:
            raise SystemExit(f"unknown shape {shape!r}: tiny, {', '.join(SHAPES)}")
        return tuple(map(str, build_small_models(**SHAPES[shape])))

    for shape in filter(None, args.shapes.split(",")):
        policy, reward = models(shape)
        results = {}
        for name, python in pythons.items():
            results[name] = run(
                [python, accord_script, policy, reward, *common, "transformers", WORK], env
            )
        if trl_python is not None:
            results["trl 1.12"] = run(
                [trl_python, trl_script, policy, reward, *common, WORK / "trl-out"]
            )
        print_memory_table(shape, results)
        print(json.dumps({"shape": shape, "load_average": load_average(), "results": results}))
    if args.skip_vllm:
        return
    try:
        import vllm  # noqa: F401
    except (ImportError, RuntimeError, OSError):
        print("vllm not importable: rollout comparison skipped")
        return
    vllm_env = {**env, "VLLM_CPU_OMP_THREADS_BIND": "0-1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    for shape in filter(None, args.vllm_shapes.split(",")):
        pair = models(shape)
        ours = run([sys.executable, accord_script, *pair, *common, "transformers", WORK], env)
        with_vllm = run([sys.executable, accord_script, *pair, *common, "vllm", WORK], vllm_env)
        print(f"\n[{shape}] rollouts, load average {load_average()}")
        print(f"{'':26}{'transformers':>14}{'vllm':>10}{'ratio':>8}")
        hf_s, vllm_s = ours["rollout_seconds"], with_vllm["rollout_seconds"]
        print(f"{'rollout (s, per step)':26}{hf_s:14.3f}{vllm_s:10.3f}{hf_s / vllm_s:8.2f}x")
        print(
            f"{'PPO step (s)':26}{ours['step_seconds']:14.3f}{with_vllm['step_seconds']:10.3f}"
            f"{ours['step_seconds'] / with_vllm['step_seconds']:8.2f}x"
        )
        print(json.dumps({"rollouts": shape, "transformers": ours, "vllm": with_vllm}))


if __name__ == "__main__":
    main()
