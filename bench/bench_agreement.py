"""How far an AI judge agrees with real human labels, and how fast it labels: HH-RLHF pairs.

Why: accord exists to measure how far AI labels can be trusted against human ones. This runs
pipelines/hh-agreement.yaml on the first N pairs of an HH-RLHF file (the user downloads it from
the public anthropics/hh-rlhf repository, MIT): import (`--format hh-rlhf`, invalid rows
skipped and counted), judge every pair in both presentation orders under each principle (the
ensemble), audit. It prints human–AI agreement with its bootstrap CI, Cohen's κ, ECE, position
consistency, how often the longer reply wins, the judge's prompt tokens per label, and pairs/s.
Judging time is the first run's wall time minus the rerun's (the rerun does everything but the
judging: same process start, import check, audit and summary); it includes loading the model.

    python bench/bench_agreement.py --hh hh-rlhf-harmless-test.jsonl --limit 200
    python bench/bench_agreement.py --hh FILE --backend vllm          # in-process vLLM
    python bench/bench_agreement.py --hh FILE --keep DIR --json       # keep the store, JSON out

Published anchors (docs/agreement.md): RLAIF (Lee et al. 2023) 78% AI–human agreement with
PaLM 2-L; MT-Bench (Zheng et al. 2023) GPT-4 vs human 66% with ties, 85% without (human–human
63% / 81%).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "pipelines" / "hh-agreement.yaml"
BACKEND_OPTIONS = {
    "transformers": {"batch_size": 16},
    "vllm": {"max_model_len": 2048, "enforce_eager": True, "dtype": "float32"},
}


def write_inputs(
    folder: Path, hh: Path, limit: int, backend: str, model: str, constitution: str
) -> Path:
    """The first ``limit`` rows of ``hh`` and a copy of the recipe pointing at them."""
    subset = folder / "hh.jsonl"
    with open(hh, encoding="utf-8") as src, open(subset, "w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n >= limit:
                break
            dst.write(line)
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe["models"]["judge"] = {
        "backend": backend,
        "model": model,
        "options": BACKEND_OPTIONS[backend],
    }
    for step in recipe["steps"]:
        if step["kind"] == "import_preferences":
            step["file"] = str(subset)
        if step["kind"] == "judge":
            step["constitution"] = constitution
    path = folder / "hh-agreement.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
    return path


def run(folder: Path, recipe: Path, env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli.main",
            "run",
            str(recipe),
            "--db",
            f"sqlite:///{folder / 'accord.db'}",
            "--json",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"accord run failed:\n{done.stderr[-4000:]}")
    return wall, json.loads(done.stdout)


def tokens_per_label(db_url: str, model: str, constitution: str) -> float:
    """Mean prompt tokens of one judge call (chat template applied; the answer is one token)."""
    from sqlmodel import Session, select
    from transformers import AutoTokenizer

    from accord.constitutions import load_constitution
    from accord.models.loading import resolve_model_path
    from accord.rlaif.judge import judge_messages
    from accord.store.db import open_store
    from accord.store.models import Pair, Prompt, Response

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model))
    principles = load_constitution(constitution).principles
    counts = []
    with Session(open_store(db_url)) as session:
        for pair in session.exec(select(Pair)).all():
            prompt = session.get(Prompt, pair.prompt_id).text
            a, b = (
                session.get(Response, pair.response_a_id).text,
                session.get(Response, pair.response_b_id).text,
            )
            for principle in principles:
                for first, second in ((a, b), (b, a)):
                    messages = judge_messages(
                        prompt=prompt, principle=principle, first=first, second=second, cot=False
                    )
                    ids = tokenizer.apply_chat_template(
                        messages, tokenize=True, add_generation_prompt=True
                    )
                    counts.append(len(ids["input_ids"] if isinstance(ids, dict) else ids))
    return sum(counts) / max(len(counts), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hh", type=Path, required=True, help="HH-RLHF JSONL file (chosen/rejected)."
    )
    parser.add_argument(
        "--limit", type=int, default=200, help="Use the first N rows (default 200)."
    )
    parser.add_argument("--backend", choices=sorted(BACKEND_OPTIONS), default="transformers")
    parser.add_argument(
        "--model", default="accord/smollm2-135m-instruct", help="Judge model id or alias."
    )
    parser.add_argument("--constitution", default="tiny-test", help="Principles of the ensemble.")
    parser.add_argument("--keep", type=Path, help="Keep the store and reports in this folder.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    if not args.hh.is_file():
        sys.exit(f"{args.hh}: no such file")

    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-bench-agreement-"))
    folder.mkdir(parents=True, exist_ok=True)
    # The pulled model stays where it was installed, not in the fresh home.
    os.environ.setdefault(
        "ACCORD_MODELS_DIR",
        str((Path(os.environ.get("ACCORD_HOME", ".accord")) / "models").resolve()),
    )
    env = {
        **os.environ,
        "ACCORD_HOME": str(folder / "home"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "platform"), env.get("PYTHONPATH")])
    )
    env.pop("ACCORD_DATABASE_URL", None)
    try:
        recipe = write_inputs(
            folder, args.hh, args.limit, args.backend, args.model, args.constitution
        )
        load_before = os.getloadavg()
        first, result = run(folder, recipe, env)
        rerun, _ = run(folder, recipe, env)
        load_after = os.getloadavg()
        audit = json.loads(
            (folder / "home" / "reports" / "hh-agreement" / "audit.json").read_text()
        )
        imported = result["steps"]["hh"]
        os.environ["ACCORD_HOME"] = env["ACCORD_HOME"]
        tokens = tokens_per_label(
            f"sqlite:///{folder / 'accord.db'}", args.model, args.constitution
        )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    from accord.audit.recipe_steps import headline_figures
    from accord.constitutions import load_constitution

    head = headline_figures(audit)
    n_pairs = imported.get("pairs", 0)
    judge_seconds = max(first - rerun, 1e-9)
    figures = {
        "file": str(args.hh),
        "rows_read": args.limit,
        "pairs": n_pairs,
        "invalid_rows": imported.get("invalid", 0),
        "backend": args.backend,
        "model": args.model,
        "constitution": args.constitution,
        "human_ai_per_pair": head["human_ai_per_pair"],
        "human_ai_every_label": head["human_ai"],
        "calibration": head["calibration"],
        "position_consistency": head["position_consistency"],
        "length_bias": [r for r in head["length_bias"] if "·" not in r["source"]],
        "prompt_tokens_per_label": round(tokens, 1),
        "labels_per_pair": 2 * len(load_constitution(args.constitution).principles),
        "first_run_s": round(first, 1),
        "rerun_s": round(rerun, 1),
        "judge_s": round(judge_seconds, 1),
        "pairs_per_s": round(n_pairs / judge_seconds, 3),
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{n_pairs} HH-RLHF pairs ({figures['invalid_rows']} invalid rows skipped of the first "
        f"{args.limit}); "
        f"judge {args.model} on {args.backend}, {figures['labels_per_pair']} labels per pair"
    )
    for row in head["human_ai_per_pair"]:
        a, k = row["agreement"], row["kappa"]
        print(
            f"  human–AI agreement per pair {a['value']:.3f} [{a['low']:.3f}, {a['high']:.3f}]  κ "
            f"{k['value']:.3f} "
            f"[{k['low']:.3f}, {k['high']:.3f}]  n={row['n']}"
        )
    for row in head["calibration"]:
        print(f"  ECE {row['ece']:.3f}  Brier {row['brier']:.3f}  n={row['n']}")
    for row in head["position_consistency"]:
        c = row["consistency"]
        print(
            f"  position consistency {c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}]  "
            f"first shown wins {row['first_position_wins']}"
        )
    for row in figures["length_bias"]:
        lw = row["longer_wins"] or {}
        if lw.get("value") is not None:
            print(
                f"  longer reply wins ({row['source']}): {lw['value']:.3f} [{lw['low']:.3f}, "
                f"{lw['high']:.3f}]"
            )
    print(
        f"  prompt tokens per label {tokens:.0f}; judging {judge_seconds:.1f} s → "
        f"{figures['pairs_per_s']:.3f} "
        f"pairs/s (first run {first:.1f} s, rerun {rerun:.1f} s)"
    )
    print(
        f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on "
        f"{os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
