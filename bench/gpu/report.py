"""figures.json of bench/gpu/measure.py → the markdown of README's GPU figures, with the
date and the machine; ``--readme`` rewrites the part of README.md between the
``<!-- gpu-figures -->`` and ``<!-- /gpu-figures -->`` markers.

    python bench/gpu/report.py $OUT/figures.json                  # print the markdown
    python bench/gpu/report.py $OUT/figures.json --readme README.md

>>> print(markdown({"machine": {"date": "2026-12-04", "gpu": None}, "phases": {}}).splitlines()[0])
#### GPU figures: none measured (2026-12-04, no GPU (dry run on a CPU))
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

START, END = "<!-- gpu-figures -->", "<!-- /gpu-figures -->"


def _num(value, fmt: str = "{:,.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def _ratio(a, b) -> str:
    return "—" if not a or not b else f"{a / b:.2f}×"


def _generation(name: str, figs: dict) -> list[str]:
    rows = []
    for key in sorted(
        (k for k in figs if k.startswith(f"{name}/generate/")),
        key=lambda k: int(k.rsplit("batch", 1)[1]),
    ):
        ours, raw = figs[key], figs.get(key.replace("/generate/", "/raw_generate/"), {})
        rows.append(
            f"| {name} | {ours.get('batch', key.rsplit('batch', 1)[1])} | "
            f"{_num(ours.get('tokens_per_s'))} | {_num(raw.get('tokens_per_s'))} | "
            f"{_ratio(ours.get('tokens_per_s'), raw.get('tokens_per_s'))} |"
        )
    return rows


def markdown(figures: dict) -> str:
    m = figures.get("machine", {})
    phases = figures.get("phases", {})
    figs = {k: v for p in phases.values() for k, v in p.get("figures", {}).items()}
    where = m.get("gpu") or "no GPU (dry run on a CPU)"
    load = next((v for k, v in figs.items() if k.endswith("/load") and "error" not in v), {})
    vocab, tokens = _num(load.get("vocab_size"), "{:,}"), _num(load.get("tokenizer_size"), "{:,}")
    precision = "bf16" if figures.get("plan") == "gpu" else "bf16 generation, float32 training"
    measured = "measured" if figs else "none measured"
    lines = [f"#### GPU figures: {measured} ({m.get('date', '?')}, {where})", ""]
    if not figs and not phases:
        return "\n".join(lines) + "\n"
    lines += [
        (
            f"{where}, {m.get('host_cpus', '?')} CPU cores (load average {m.get('load_average')}), "
            f"torch {m.get('torch')} (CUDA {m.get('cuda')}), transformers {m.get('transformers')}, "
            f"trl {m.get('trl')}, accord {m.get('accord_commit')}. Random-weights Qwen2.5-shaped "
            f"models built from a config (vocabulary {vocab} rows, accord's {tokens}-token "
            "tokenizer), "
            f"{precision}, plan `{figures.get('plan')}`, {figures.get('total_s', '?')} s in all. "
            "Reproduce: `bash bench/gpu/run.sh` (see bench/gpu/measure.py)."
        ),
        "",
    ]
    shapes = [k.split("/")[0] for k in figs if k.endswith("/load")]
    lines += [
        "| shape | batch | accord backend tokens/s | `model.generate` tokens/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name in shapes:
        lines += _generation(name, figs)
    lines += [
        "",
        (
            "| shape | judge pairs/s (batched / one request per call) | job vs raw backend calls "
            "(goal ≤ 5 %) | accord's own time | peak GPU memory (MB) |"
        ),
        "|---|---|---|---|---|",
    ]
    for name in shapes:
        judge, job = figs.get(f"{name}/judge", {}), figs.get(f"{name}/job_overhead", {})
        lines.append(
            f"| {name} | {_num(judge.get('pairs_per_s'), '{:,.2f}')} / "
            f"{_num(judge.get('pairs_per_s_one_request_per_call'), '{:,.2f}')} | "
            f"{_num(job.get('overhead_pct'), '{:+.2f} %')} | "
            f"{_num(job.get('accord_share_pct'), '{:.2f} %')} | "
            f"{_num(figs.get(f'{name}/gpu_peak', {}).get('gpu_peak_mb'), '{:,.0f}')} |"
        )
    re_, ca = figs.get("dpo/recomputed", {}), figs.get("dpo/cached", {})

    def step(figures: dict) -> float | None:
        return (figures.get("runs") or [{}])[0].get("step_seconds")

    ours, trl = figs.get("ppo/accord", {}), figs.get("ppo/trl112", {})
    lines += [
        "",
        "| training step | seconds | peak GPU memory (MB) | vs |",
        "|---|---|---|---|",
        f"| DPO, reference recomputed | {_num(step(re_), '{:.3f}')} | "
        f"{_num(re_.get('peak_memory_mb'), '{:,.0f}')} | |",
        (
            f"| DPO, reference cached | {_num(step(ca), '{:.3f}')} | "
            f"{_num(ca.get('peak_memory_mb'), '{:,.0f}')} | "
            f"{_ratio(step(re_), step(ca))} faster |"
        ),
        (
            f"| PPO, trl 1.12 PPOTrainer | {_num(trl.get('step_seconds'), '{:.3f}')} | "
            f"{_num(trl.get('gpu_peak_mb'), '{:,.0f}')} | |"
        ),
        (
            f"| PPO, accord | {_num(ours.get('step_seconds'), '{:.3f}')} | "
            f"{_num(ours.get('gpu_peak_mb'), '{:,.0f}')} | "
            f"{_ratio(trl.get('step_seconds'), ours.get('step_seconds'))} faster, memory "
            f"{_ratio(ours.get('gpu_peak_mb'), trl.get('gpu_peak_mb'))} |"
        ),
    ]
    problems = [f"- `{k}`: {v['error'][:160]}" for k, v in figs.items() if "error" in v]
    problems += [
        f"- phase {n}: {p['status']}"
        for n, p in phases.items()
        if p.get("status", "exit 0") != "exit 0"
    ]
    if problems:
        lines += ["", "Not measured:", *problems]
    return "\n".join(lines) + "\n"


def replace_section(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError(f"README has no {START} … {END} section to replace")
    return pattern.sub(lambda _: f"{START}\n{table}{END}", readme, count=1)


def main(argv: list[str] | None = None) -> int:
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("figures", type=Path)
    ap.add_argument("--readme", type=Path, help="rewrite this README's GPU figures section")
    args = ap.parse_args(argv)
    try:
        figures = json.loads(args.figures.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{args.figures}: not a figures file ({exc})") from None
    table = markdown(figures)
    if args.readme:
        args.readme.write_text(replace_section(args.readme.read_text(), table))
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
