"""Tokens/s of the transformers backend vs the in-process vLLM backend, side by side.

Why: accord offers both local backends; this shows what vLLM buys on the machine at hand.
Both backends get the same chat prompts, the same sampling (greedy by default) and the same
max_tokens, and the figure is completion tokens / wall-clock seconds of one ``generate``
call over all prompts (after a warm-up call), so it includes accord's own request handling.

    python bench/bench_backends.py                      # 0.5B-shaped random model, bf16
    python bench/bench_backends.py --prompts 32 --max-tokens 64
    python bench/bench_backends.py --shape tiny         # seconds; the tiny offline model
    python bench/bench_backends.py --json bench/results/backends.json

The 0.5B shape is Qwen2.5-0.5B's architecture (896 hidden, 24 layers, 14 query / 2 KV heads,
4864 MLP) written as a config-only folder with accord's tiny tokenizer; vLLM fills it with
random weights (``load_format="dummy"``) and transformers initialises the same config
randomly in memory. The vocabulary is the tiny tokenizer's (about 2k tokens) rather than
the real 152k, so both backends skip most of the real output-layer cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# vLLM's CPU build: a KV cache in GiB, and every core for its OpenMP threads.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{(os.cpu_count() or 1) - 1}")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QWEN25_05B_SHAPE = {
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
}


def config_folder(shape: str, workdir: Path) -> tuple[str, str]:
    """(folder or model id, load_format for vLLM)."""
    from accord.models.tiny import ensure_tiny_model

    tiny = ensure_tiny_model("causal")
    if shape == "tiny":
        return str(tiny), "auto"
    from transformers import AutoTokenizer, Qwen2Config

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="bfloat16",
        **QWEN25_05B_SHAPE,
    )
    folder = workdir / "qwen2.5-0.5b-shape"
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder), "dummy"


def prompts(count: int, prompt_tokens: int) -> list[list[dict[str, str]]]:
    """``count`` distinct user turns of about ``prompt_tokens`` tokens each."""
    from accord.models.corpus import tiny_corpus
    from accord.models.loading import load_tokenizer

    tokenizer = load_tokenizer("accord/tiny")
    lines = tiny_corpus()
    out = []
    for i in range(count):
        ids: list[int] = []
        j = i * 7
        while len(ids) < prompt_tokens:
            ids += tokenizer(lines[j % len(lines)] + " ", add_special_tokens=False)["input_ids"]
            j += 1
        out.append([{"role": "user", "content": tokenizer.decode(ids[:prompt_tokens])}])
    return out


def timed_call(backend, requests) -> tuple[float, int]:
    """Seconds of one ``generate`` call and the completion tokens it produced."""
    start = time.perf_counter()
    results = backend.generate(requests)
    seconds = time.perf_counter() - start
    errors = [r.error for r in results if r.error]
    if errors:
        raise SystemExit(f"{backend.name} failed: {errors[0]}")
    return seconds, sum(r.usage["completion_tokens"] for r in results)


def timed(backend, requests) -> dict[str, float]:
    backend.generate(requests[:2])  # warm-up: first-call allocations, kernels, caches
    seconds, tokens = timed_call(backend, requests)
    return {"seconds": seconds, "completion_tokens": tokens, "tokens_per_s": tokens / seconds}


def run_transformers(folder: str, shape: str, requests, args) -> dict[str, float]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from accord.backends import make_backend
    from accord.backends.transformers_backend import TransformersBackend

    torch.set_num_threads(os.cpu_count() or 1)
    if shape == "tiny":
        backend = make_backend(
            "transformers", folder, dtype=args.hf_dtype, batch_size=args.batch_size
        )
    else:
        dtype = getattr(torch, args.hf_dtype)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=dtype)
        backend = TransformersBackend.from_loaded(
            model,
            AutoTokenizer.from_pretrained(folder),
            model_id=folder,
            batch_size=args.batch_size,
        )
    try:
        return timed(backend, requests)
    finally:
        backend.close()


def run_vllm(folder: str, load_format: str, requests, args) -> dict[str, float]:
    from accord.backends import make_backend

    start = time.perf_counter()
    backend = make_backend(
        "vllm",
        folder,
        dtype=args.vllm_dtype,
        load_format=load_format,
        max_model_len=args.prompt_tokens + args.max_tokens + 64,
        enforce_eager=not args.compile,
        engine_options={"max_num_seqs": max(args.prompts, 1)},
    )
    started = time.perf_counter() - start
    try:
        return {**timed(backend, requests), "startup_s": started}
    finally:
        backend.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["0.5b", "tiny"], default="0.5b")
    parser.add_argument("--prompts", type=int, default=8, help="requests in the batch")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8, help="transformers rows per pass")
    parser.add_argument("--hf-dtype", default="bfloat16", help="transformers dtype")
    parser.add_argument("--vllm-dtype", default="bfloat16", help="vLLM dtype")
    parser.add_argument("--compile", action="store_true", help="let vLLM compile (slow start)")
    parser.add_argument("--backends", default="transformers,vllm")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from accord.backends import GenerationRequest

    with tempfile.TemporaryDirectory(prefix="accord-bench-") as workdir:
        folder, load_format = config_folder(args.shape, Path(workdir))
        requests = [
            GenerationRequest(messages=m, max_tokens=args.max_tokens, temperature=0.0, seed=i)
            for i, m in enumerate(prompts(args.prompts, args.prompt_tokens))
        ]
        figures: dict[str, dict[str, float]] = {}
        wanted = args.backends.split(",")
        if "transformers" in wanted:
            figures["transformers"] = run_transformers(folder, args.shape, requests, args)
        if "vllm" in wanted:
            figures["vllm"] = run_vllm(folder, load_format, requests, args)

    print(
        f"\nshape={args.shape} prompts={args.prompts} prompt_tokens≈{args.prompt_tokens} "
        f"max_tokens={args.max_tokens} greedy, cpus={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows both)"
    )
    print(f"{'backend':<14}{'dtype':<10}{'tokens':>8}{'seconds':>10}{'tokens/s':>11}")
    for name, fig in figures.items():
        dtype = args.hf_dtype if name == "transformers" else args.vllm_dtype
        print(
            f"{name:<14}{dtype:<10}{fig['completion_tokens']:>8.0f}"
            f"{fig['seconds']:>10.2f}{fig['tokens_per_s']:>11.1f}"
        )
    if len(figures) == 2:
        speedup = figures["vllm"]["tokens_per_s"] / figures["transformers"]["tokens_per_s"]
        figures["vllm_speedup"] = speedup
        print(f"vLLM speed-up over transformers: {speedup:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, **figures}, indent=2)
        )


if __name__ == "__main__":
    sys.exit(main())
