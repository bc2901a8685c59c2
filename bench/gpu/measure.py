"""GPU figures in one call: generation, judge, job overhead, DPO and PPO on random-weights
Qwen2.5-shaped models (bench/gpu/shapes.py), bf16, written as JSON while they are measured.

    python bench/gpu/measure.py --out /tmp/figures             # on a GPU (bench/gpu/run.sh)
    python bench/gpu/measure.py --out /tmp/figures --dry-run   # the same code, tiny, on a CPU

Three phases, each in its own process with a hard timeout (a hang, a CUDA error or an
out-of-memory in one loses only that phase; what it measured before is kept):

- generation: per shape, accord's transformers backend tokens/s at batch 1/32/256 (greedy, a
  fixed number of new tokens) beside ``model.generate`` on the same prompts; judge pairs/s
  (bench_jobs.judge_throughput); a generate job vs the same raw backend calls
  (bench_jobs.overhead, goal ≤ 5 %).
- dpo: one DPO step, reference log-probs recomputed vs cached (bench_dpo's variants).
- ppo: accord's PPO step vs trl 1.12's PPOTrainer (bench_ppo's children; trl 1.12 from the
  folder named by ``TRL112_SITE``), peak CUDA memory of each.

Every measurement lands in ``<out>/phase-<name>.json`` as soon as it is done (an error is
recorded as ``{"error": ...}``); the parent merges them into ``<out>/figures.json`` and
prints the table of bench/gpu/report.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # bench/gpu (plan, shapes, report) and bench/

from plan import PHASES, PLANS, Plan  # noqa: E402 (found through the path set above)


def write_json(path: Path, data: dict) -> None:
    """Whole or not at all: a phase killed mid-write leaves the previous version."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return {"_unreadable": {"error": f"{path.name}: {exc}"}} if path.exists() else {}


class Recorder:
    """Runs one measurement at a time, keeps its figures or its error, rewrites the file."""

    def __init__(self, path: Path):
        self.path, self.figures = path, {}

    def __call__(self, key: str, fn):
        t0 = time.perf_counter()
        try:
            value = fn()
        except BaseException as exc:  # SystemExit from the bench drivers included
            if isinstance(exc, KeyboardInterrupt):
                raise
            traceback.print_exc()
            value = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        value = {**value, "wall_s": round(time.perf_counter() - t0, 2)}
        self.figures[key] = value
        write_json(self.path, self.figures)
        print(f"[{key}] {json.dumps(value)[:400]}", flush=True)
        return value


# -- generation phase ---------------------------------------------------------------------


def _requests(plan: Plan, count: int):
    from bench_backends import prompts

    from accord.backends import GenerationRequest

    return [
        GenerationRequest(messages=m, max_tokens=plan.new_tokens, temperature=0.0, seed=i)
        for i, m in enumerate(prompts(count, plan.prompt_tokens))
    ]


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def backend_tokens_per_s(model, tok, plan: Plan, batch: int, name: str) -> dict:
    """accord's transformers backend: one ``generate`` over ``batch`` requests (after a warm-up
    call), rows per pass = ``batch``."""
    from bench_backends import timed

    from accord.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_loaded(model, tok, model_id=name, batch_size=batch)
    figures = timed(backend, _requests(plan, max(batch, plan.min_requests)))
    _sync(plan.device)
    return {"batch": batch, **{k: round(v, 3) for k, v in figures.items()}}


def raw_generate_tokens_per_s(model, tok, plan: Plan, batch: int) -> dict:
    """``model.generate`` on the same rendered prompts, left-padded, exactly ``new_tokens``."""
    import torch

    texts = [
        tok.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        for r in _requests(plan, max(batch, plan.min_requests))
    ]
    side, tok.padding_side = tok.padding_side, "left"
    kwargs = {
        "max_new_tokens": plan.new_tokens,
        "min_new_tokens": plan.new_tokens,
        "do_sample": False,
        "pad_token_id": tok.pad_token_id,
    }

    def run(chunk):
        enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(
            model.device
        )
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        return (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]

    try:
        run(texts[:2])
        _sync(plan.device)
        t0 = time.perf_counter()
        tokens = sum(run(texts[i : i + batch]) for i in range(0, len(texts), batch))
        _sync(plan.device)
        seconds = time.perf_counter() - t0
    finally:
        tok.padding_side = side
    return {
        "batch": batch,
        "seconds": round(seconds, 3),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
    }


def measure_shape(name: str, model, tok, plan: Plan, folder: Path, record: Recorder) -> None:
    """Tokens/s per batch size, judge pairs/s and job overhead on one loaded model."""
    import torch
    from bench_jobs import judge_throughput, overhead

    from accord.backends.transformers_backend import TransformersBackend

    def backend(rows: int):
        return TransformersBackend.from_loaded(model, tok, model_id=name, batch_size=rows)

    for batch in plan.batches:
        record(
            f"{name}/generate/batch{batch}",
            lambda b=batch: backend_tokens_per_s(model, tok, plan, b, name),
        )
        record(
            f"{name}/raw_generate/batch{batch}",
            lambda b=batch: raw_generate_tokens_per_s(model, tok, plan, b),
        )
    folder.mkdir(parents=True, exist_ok=True)
    judge_args = SimpleNamespace(pairs=plan.judge_pairs, judge_batch=plan.judge_batch)
    record(
        f"{name}/judge",
        lambda: judge_throughput(judge_args, folder, backend=backend(plan.judge_rows)),
    )
    job_args = SimpleNamespace(
        prompts=plan.job_prompts,
        n=plan.job_n,
        max_tokens=plan.job_max_tokens,
        batch_size=plan.job_batch,
        repeats=plan.job_repeats,
    )
    record(
        f"{name}/job_overhead",
        lambda: overhead(
            "transformers", name, "dummy", job_args, folder, backend=backend(plan.job_batch)
        ),
    )
    if plan.device.startswith("cuda"):
        record(
            f"{name}/gpu_peak",
            lambda: {"gpu_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20)},
        )


def phase_generation(plan: Plan, work: Path, record: Recorder) -> None:
    import torch
    from shapes import SHAPES, in_memory, tokenizer

    tok = tokenizer()
    for name in plan.shapes:
        holder = {}

        def load(shape=SHAPES[name], holder=holder):
            holder["model"] = in_memory(shape, tok, device=plan.device)
            params = sum(p.numel() for p in holder["model"].parameters())
            return {
                "parameters": params,
                "vocab_size": shape.vocab_size,
                "tokenizer_size": len(tok),
            }

        if "error" not in record(f"{name}/load", load):
            measure_shape(name, holder.pop("model"), tok, plan, work / name, record)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()


# -- training phases ----------------------------------------------------------------------


def _train_dtype(plan: Plan) -> str:
    return "bfloat16" if plan.bf16 else "float32"


def phase_dpo(plan: Plan, work: Path, record: Recorder) -> None:
    import bench_dpo
    from shapes import SHAPES, save_pair

    models = {}
    record(
        "dpo/models",
        lambda: {
            "folder": str(
                models.setdefault(
                    "pair",
                    save_pair(SHAPES[plan.train_shape], work / "models", dtype=_train_dtype(plan)),
                )[0].name
            )
        },
    )
    if "pair" not in models:
        return
    model = models["pair"][0]
    snapshot = bench_dpo.build_snapshot(plan.dpo_examples)
    args = SimpleNamespace(steps=plan.dpo_steps, batch=plan.dpo_batch, bf16=plan.bf16)
    homes = work / "dpo-homes"
    homes.mkdir(parents=True, exist_ok=True)
    record(
        "dpo/recomputed",
        lambda: bench_dpo.child(
            "recompute", model, snapshot, args, "0.1", tempfile.mkdtemp(dir=homes)
        ),
    )
    warm = tempfile.mkdtemp(dir=homes)
    fill = SimpleNamespace(**{**vars(args), "steps": 1})
    record("dpo/cache_fill", lambda: bench_dpo.child("cached", model, snapshot, fill, "0.1", warm))
    record("dpo/cached", lambda: bench_dpo.child("cached", model, snapshot, args, "0.1", warm))


def phase_ppo(plan: Plan, work: Path, record: Recorder) -> None:
    import bench_ppo
    from shapes import SHAPES, save_pair

    bench_ppo.WORK = work / "ppo"
    bench_ppo.WORK.mkdir(parents=True, exist_ok=True)
    models = {}
    record(
        "ppo/models",
        lambda: {
            "folder": str(
                models.setdefault(
                    "pair",
                    save_pair(SHAPES[plan.train_shape], work / "models", dtype=_train_dtype(plan)),
                )[0].name
            )
        },
    )
    if "pair" not in models:
        return
    policy, reward = map(str, models["pair"])
    accord_script, trl_script = bench_ppo.WORK / "accord_ppo.py", bench_ppo.WORK / "trl112_ppo.py"
    accord_script.write_text(bench_ppo.ACCORD_CHILD)
    trl_script.write_text(bench_ppo.TRL_CHILD)
    common = [
        bench_ppo.prompts_file(),
        plan.ppo_steps,
        plan.ppo_batch,
        plan.ppo_mini,
        plan.ppo_epochs,
        plan.ppo_new_tokens,
    ]
    env = {"ACCORD_HOME": str(work / "ppo-home"), "BENCH_PPO_BF16": "1" if plan.bf16 else "0"}
    record(
        "ppo/accord",
        lambda: bench_ppo.run(
            [
                sys.executable,
                accord_script,
                policy,
                reward,
                *common,
                "transformers",
                bench_ppo.WORK,
            ],
            env,
        ),
    )

    def trl112():
        site = os.environ.get("TRL112_SITE", "")
        if not (Path(site) / "trl").is_dir():
            raise RuntimeError(
                f"trl 1.12 is not installed in TRL112_SITE={site!r} (bench/gpu/run.sh "
                "installs it from .whl/trl112, written by bench/gpu/wheels.sh)"
            )
        path = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH", "")) if p)
        return bench_ppo.run(
            [sys.executable, trl_script, policy, reward, *common, bench_ppo.WORK / "trl-out"],
            {**env, "PYTHONPATH": path},
        )

    record("ppo/trl112", trl112)


PHASE_FUNCTIONS = {"generation": phase_generation, "dpo": phase_dpo, "ppo": phase_ppo}


# -- the parent -----------------------------------------------------------------------------


def machine() -> dict:
    """Date, host, versions (from package metadata: the parent imports no heavy module) and
    the GPU's name from nvidia-smi."""
    import importlib.metadata as md

    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for dist in ("torch", "transformers", "accelerate", "trl", "datasets", "sqlmodel"):
        try:
            info[dist] = md.version(dist)
        except md.PackageNotFoundError:
            info[dist] = None
    cuda = (info["torch"] or "").partition("+")[2]
    info["cuda"] = cuda if cuda.startswith("cu") else None
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        info["gpu"] = (
            smi.stdout.strip().splitlines()[0]
            if smi.returncode == 0 and smi.stdout.strip()
            else None
        )
    except (OSError, subprocess.TimeoutExpired):
        info["gpu"] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    info["accord_commit"] = commit.stdout.strip() or None
    return info


def run_phase(
    name: str, plan_name: str, out: Path, work: Path, timeout: float, shapes: str | None = None
) -> dict:
    """One phase in its own process group, killed whole when ``timeout`` runs out."""
    cmd = [
        sys.executable,
        "-u",
        __file__,
        "--phase",
        name,
        "--plan",
        plan_name,
        "--out",
        str(out),
        "--work",
        str(work),
    ] + (["--shapes", shapes] if shapes else [])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_DPO_WORK": str(work / "dpo")}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        status = f"exit {proc.wait(timeout=max(timeout, 1))}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        status = f"killed after its {timeout:.0f} s budget"
    figures = read_json(out / f"phase-{name}.json")
    return {"status": status, "seconds": round(time.perf_counter() - t0, 1), "figures": figures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", type=Path, required=True, help="folder for figures.json and phase files"
    )
    ap.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU, same code")
    ap.add_argument("--budget", type=float, help="seconds for all phases (default: the plan's)")
    ap.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated subset of {PHASES}"
    )
    ap.add_argument(
        "--shapes",
        help="comma-separated subset of the plan's generation shapes, in the order to measure "
        "(e.g. only the one a budget cut short last time)",
    )
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--plan", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help="scratch folder (models, stores); default a temp dir")
    args = ap.parse_args(argv)
    plan_name = args.plan or ("dry" if args.dry_run else "gpu")
    plan = PLANS[plan_name]
    if args.shapes:
        shapes = tuple(s.strip() for s in args.shapes.split(",") if s.strip())
        unknown = [s for s in shapes if s not in plan.shapes]
        if unknown or not shapes:
            ap.error(f"--shapes: {unknown or args.shapes!r} not in the plan's {plan.shapes}")
        plan = dataclasses.replace(plan, shapes=shapes)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.phase:  # a child: one phase
        PHASE_FUNCTIONS[args.phase](
            plan, args.work, Recorder(args.out / f"phase-{args.phase}.json")
        )
        return 0

    start = time.perf_counter()
    budget = args.budget or plan.budget_s
    work = args.work or Path(tempfile.mkdtemp(prefix="accord-gpu-bench-"))
    figures = {
        "plan": plan_name,
        "shapes": list(plan.shapes),
        "machine": machine(),
        "budget_s": budget,
        "phases": {},
    }
    result = args.out / "figures.json"
    spare = 0.0
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - set(PHASES):
        ap.error(f"--phases: {args.phases!r} is not a subset of {PHASES}")
    for name in phases:
        left = budget - (time.perf_counter() - start)
        timeout = min(left, plan.phase_caps_s[name] + spare)
        if timeout < 5:
            figures["phases"][name] = {"status": "skipped: no time left", "figures": {}}
            continue
        print(f"== phase {name}: up to {timeout:.0f} s", flush=True)
        figures["phases"][name] = run_phase(name, plan_name, args.out, work, timeout, args.shapes)
        spare = max(0.0, timeout - figures["phases"][name]["seconds"])
        write_json(result, figures)
    figures["total_s"] = round(time.perf_counter() - start, 1)
    figures["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json(result, figures)

    from report import markdown

    table = markdown(figures)
    (args.out / "figures.md").write_text(table)
    print("\n" + table, flush=True)
    # figures are kept either way; a phase that did not finish is said in the exit status too
    return 0 if all(p["status"] == "exit 0" for p in figures["phases"].values()) else 3


if __name__ == "__main__":
    sys.exit(main())
