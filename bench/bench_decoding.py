"""accord's transformers decoding loop vs ``model.generate``, side by side in one run.

Why: the transformers backend decodes with its own KV-cached loop (per-request seeds, stop
strings, log-prob records). This measures what that loop costs against the library's own
``generate`` on the same model, the same rendered prompts, the same batch and the same number
of new tokens, for greedy and for sampled decoding. A model whose forward pass is cheap (the
tiny model on a CPU, any model on a GPU) shows the loop's own overhead most.

    python bench/bench_decoding.py                                   # tiny model, batch 1/8/32
    python bench/bench_decoding.py --model accord/smollm2-135m-instruct --batches 1 8
    python bench/bench_decoding.py --json bench/results/decoding.json

Both sides stop a row at its end-of-sequence token and count the tokens each row produced
(its end-of-sequence token included), so ``tokens/s`` compares like with like. Each figure is
the best of ``--repeats`` timed calls after a warm-up; ratio = accord / generate (> 1: accord
faster).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _requests(count: int, new_tokens: int, sampled: bool):
    from bench_backends import prompts

    from accord.backends import GenerationRequest

    return [
        GenerationRequest(
            messages=m,
            max_tokens=new_tokens,
            temperature=1.0 if sampled else 0.0,
            top_p=0.95 if sampled else 1.0,
            seed=i,
        )
        for i, m in enumerate(prompts(count, 48))
    ]


def generate_seconds(model, tokenizer, eos_ids, requests, batch: int) -> tuple[float, int]:
    import torch

    texts = [
        tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        for r in requests
    ]
    first = requests[0]
    kwargs = {
        "max_new_tokens": first.max_tokens,
        "do_sample": first.temperature > 0,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": sorted(eos_ids),
    }
    if first.temperature > 0:
        kwargs.update(temperature=first.temperature, top_p=first.top_p, top_k=0)
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    tokens = 0
    try:
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            enc = tokenizer(
                texts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(model.device)
            with torch.inference_mode():
                out = model.generate(**enc, **kwargs)
            for row in out[:, enc["input_ids"].shape[1] :].tolist():
                ends = [j for j, t in enumerate(row) if t in eos_ids]
                tokens += ends[0] + 1 if ends else len(row)
        seconds = time.perf_counter() - start
    finally:
        tokenizer.padding_side = side
    return seconds, tokens


def measure(args) -> list[dict]:
    import torch
    from bench_backends import timed_call

    from accord.backends import make_backend
    from accord.backends.transformers_backend import TransformersBackend

    torch.set_num_threads(os.cpu_count() or 1)
    loaded = make_backend("transformers", args.model, dtype=args.dtype, device=args.device)
    model, tokenizer = loaded.model, loaded.tokenizer
    if model.generation_config is not None:  # no sampling defaults from the model's folder
        model.generation_config.top_k = None
    rows = []
    for sampled in (False, True) if args.sampling == "both" else (args.sampling == "sampled",):
        for batch in args.batches:
            requests = _requests(batch * args.batches_per_figure, args.new_tokens, sampled)
            backend = TransformersBackend.from_loaded(
                model, tokenizer, model_id=args.model, batch_size=batch
            )
            timed_call(backend, requests[:batch])  # warm-up
            generate_seconds(model, tokenizer, loaded.eos_ids, requests[:batch], batch)
            ours, theirs = [], []
            for _ in range(args.repeats):  # interleaved, so load changes hit both sides
                ours.append(timed_call(backend, requests))
                theirs.append(generate_seconds(model, tokenizer, loaded.eos_ids, requests, batch))
            (a_s, a_tok), (g_s, g_tok) = min(ours), min(theirs)
            rows.append(
                {
                    "decoding": "sampled" if sampled else "greedy",
                    "batch": batch,
                    "accord_tokens": a_tok,
                    "accord_tokens_per_s": round(a_tok / a_s, 1),
                    "generate_tokens": g_tok,
                    "generate_tokens_per_s": round(g_tok / g_s, 1),
                    "ratio": round((a_tok / a_s) / (g_tok / g_s), 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    loaded.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="accord/tiny", help="hub id, folder or accord alias")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--batches-per-figure", type=int, default=2, help="batches timed per figure"
    )
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--sampling", choices=["greedy", "sampled", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if present)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    rows = measure(args)
    print(
        f"\nmodel={args.model} new_tokens={args.new_tokens} dtype={args.dtype} "
        f"cpus={os.cpu_count()} load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'decoding':<9}{'batch':>6}{'accord tok/s':>14}{'generate tok/s':>16}{'ratio':>8}")
    for r in rows:
        print(
            f"{r['decoding']:<9}{r['batch']:>6}{r['accord_tokens_per_s']:>14.1f}"
            f"{r['generate_tokens_per_s']:>16.1f}{r['ratio']:>7.2f}x"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"args": {**vars(args), "json": str(args.json)}, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    sys.exit(main())
