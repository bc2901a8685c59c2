"""DPO step time and peak memory: reference log-probs cached on disk vs recomputed each step,
and a 4-value β sweep that computes the reference log-probs once.

Why: the reference forward pass is a sizeable share of a DPO step and the reference model
doubles the weights in memory; accord computes reference log-probs once per (snapshot,
reference model) and drops the model. This script measures both effects side by side.

    python bench/bench_dpo.py                    # a ~25M-parameter Qwen2-shaped model, 12 steps
    python bench/bench_dpo.py --hidden 896 --layers 24 --steps 20   # Qwen2.5-0.5B shape (GPU box)

Each variant runs in its own process so peak RSS (CPU) / peak CUDA memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# gitignored; BENCH_DPO_WORK moves it (bench/gpu/ keeps its runs in its own folder)
WORK = Path(os.environ.get("BENCH_DPO_WORK") or ROOT / "bench" / "results" / "dpo-work")


def build_model(hidden: int, layers: int) -> Path:
    """A random-weights Qwen2-shaped model with accord's tiny tokenizer (throughput only)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    from accord.models.tiny import ensure_tiny_model

    folder = WORK / f"qwen2-h{hidden}-l{layers}"
    if (folder / "config.json").is_file():
        return folder
    tok = AutoTokenizer.from_pretrained(ensure_tiny_model("causal"))
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 128),
        intermediate_size=hidden * 4,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_snapshot(n: int) -> Path:
    from accord.train.data import write_export

    folder = WORK / f"snapshot-{n}"
    if (folder / "manifest.json").is_file():
        return folder
    rows = []
    for i in range(n):
        topic = ["photosynthesis", "volcanoes", "compound interest", "sleep hygiene"][i % 4]
        rows.append(
            {
                "prompt": f"Question {i}: can you explain {topic} in simple terms, "
                "with an example?",
                "chosen": f"Sure. {topic.capitalize()} works like this: first, "
                + "a clear step, " * 6
                + "done.",
                "rejected": "I do not know, " * 4 + "sorry.",
                "score": 0.8,
                "example_hash": f"{i:064d}",
            }
        )
    return write_export(folder, name=f"bench-{n}", train=rows, test=[])


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_variant(args) -> dict:
    """Inside a child process: train DPO once and report step times and peak memory."""
    from transformers import TrainerCallback

    from accord.train.dpo import DPOTrainConfig, train_dpo

    step_times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            step_times.append(time.perf_counter() - self.t)

    import accord.train.dpo as dpo_module

    timer = Timer()
    orig_init = dpo_module.SoftLabelDPOTrainer.__init__

    def init(self, *a, **k):
        k["callbacks"] = [*k.get("callbacks", []), timer]
        orig_init(self, *a, **k)

    dpo_module.SoftLabelDPOTrainer.__init__ = init
    results = []
    betas = [float(b) for b in args.betas.split(",")]
    t0 = time.perf_counter()
    for beta in betas:
        step_times.clear()
        config = DPOTrainConfig(
            snapshot=str(args.snapshot),
            model=str(args.model),
            max_steps=args.steps,
            beta=beta,
            per_device_train_batch_size=args.batch,
            cache_ref_logps=args.variant != "recompute",
            evaluate_test=False,
            save_model=False,
            bf16=args.bf16,
            db_url=f"sqlite:///{WORK / 'bench.db'}",
            output_dir=str(WORK / "out"),
            max_length=256,
        )
        result = train_dpo(config)
        steady = step_times[1:] or step_times
        results.append(
            {
                "beta": beta,
                "step_seconds": sum(steady) / len(steady),
                "ref_cache_hit": result.metrics["ref_cache_hit"],
                "train_seconds": result.metrics["train_seconds"],
            }
        )
    return {
        "variant": args.variant,
        "runs": results,
        "total_seconds": time.perf_counter() - t0,
        "peak_memory_mb": peak_memory_mb(),
    }


def child(variant: str, model: Path, snapshot: Path, args, betas: str, home: str) -> dict:
    env = {**os.environ, "ACCORD_HOME": home}
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--model",
        str(model),
        "--snapshot",
        str(snapshot),
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--betas",
        betas,
    ]
    if getattr(args, "bf16", False):
        cmd.append("--bf16")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"variant {variant} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--child")
    parser.add_argument("--model")
    parser.add_argument("--snapshot")
    parser.add_argument("--betas", default="0.1")
    parser.add_argument("--variant")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 weights and mixed precision")
    args = parser.parse_args()
    if args.child:
        args.variant = args.child
        WORK.mkdir(parents=True, exist_ok=True)
        print(json.dumps(run_variant(args)))
        return

    WORK.mkdir(parents=True, exist_ok=True)
    model, snapshot = build_model(args.hidden, args.layers), build_snapshot(args.examples)
    print(f"model {model.name}, {args.examples} examples, {args.steps} steps, batch {args.batch}")
    recompute = child("recompute", model, snapshot, args, "0.1", tempfile.mkdtemp(dir=WORK))
    warm_home = tempfile.mkdtemp(dir=WORK)
    first = child("cached", model, snapshot, args, "0.1", warm_home)  # computes and stores
    cached = child("cached", model, snapshot, args, "0.1", warm_home)  # cache hit
    sweep_home = tempfile.mkdtemp(dir=WORK)
    sweep = child("cached", model, snapshot, args, "0.05,0.1,0.2,0.5", sweep_home)
    sweep_recompute = child(
        "recompute", model, snapshot, args, "0.05,0.1,0.2,0.5", tempfile.mkdtemp(dir=WORK)
    )

    r_step, c_step = recompute["runs"][0]["step_seconds"], cached["runs"][0]["step_seconds"]
    print(f"{'':34}{'recomputed':>12}{'cached':>12}{'ratio':>8}")
    print(f"{'DPO step (s, steady state)':34}{r_step:12.4f}{c_step:12.4f}{r_step / c_step:8.2f}x")
    r_peak, c_peak = recompute["peak_memory_mb"], cached["peak_memory_mb"]
    print(f"{'peak memory (MB)':34}{r_peak:12.0f}{c_peak:12.0f}{r_peak / c_peak:8.2f}x")
    print(f"{'first cached run: cache hit':34}{'':12}{first['runs'][0]['ref_cache_hit']!s:>12}")
    print(f"{'second cached run: cache hit':34}{'':12}{cached['runs'][0]['ref_cache_hit']!s:>12}")
    hits = [r["ref_cache_hit"] for r in sweep["runs"]]
    r_sweep, c_sweep = sweep_recompute["total_seconds"], sweep["total_seconds"]
    print(f"{'4-beta sweep total (s)':34}{r_sweep:12.1f}{c_sweep:12.1f}{r_sweep / c_sweep:8.2f}x")
    print(f"{'4-beta sweep reference passes':34}{'4 (per step)':>12}{hits.count(False):>12}")


if __name__ == "__main__":
    main()
