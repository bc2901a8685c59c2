"""distilabel's side of the comparison: its virtual environment, its pipeline and its rows.

This file is also the pipeline's entry point inside distilabel's own environment
(``python distilabel_side.py spec.json``), so it imports nothing but the standard library at
module level: the spec (a JSON file written by the bench) names the task (``generation`` or
``judge``), the backend (``transformers`` or ``openai``: a vLLM OpenAI-compatible server),
the prompts, the sampling, the batch size, the cache folder and where the rows go.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DISTILABEL_PIN = "distilabel==1.5.3"
TORCH_PIN = "torch==2.13.0"  # CPU build; any other torch request pulls a CUDA build
VENV_PACKAGES = (TORCH_PIN, DISTILABEL_PIN, "transformers>=5,<6", "requests", "openai")


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


def worker_command(python: Path, spec_path: Path) -> list[str]:
    """The command that runs the pipeline of ``spec_path`` in distilabel's environment."""
    return [str(python), str(Path(__file__).resolve()), str(spec_path)]


# -- the pipeline (runs inside distilabel's environment) -----------------------------------


def run_pipeline(spec_path: Path) -> None:
    """``TextGeneration`` (and, for the judge task, ``UltraFeedback``'s overall rating), then
    the pipeline's rows as JSONL at ``spec["out"]``."""
    from distilabel.models.llms import OpenAILLM, TransformersLLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration, UltraFeedback

    spec = json.loads(spec_path.read_text())
    judge = spec["task"] == "judge"

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
            model=spec["served_name"], base_url=spec["base_url"], api_key="none", timeout=600,
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


# -- its rows, read by the bench -----------------------------------------------------------


def distilabel_units(cache_dir: Path, spec: dict) -> int:
    """Rows distilabel has received so far (generations and ratings), read from the batch
    manager state it saves after every batch: (last batch number + 1) × rows per batch, at
    most the step's planned rows. -1 while a state file is being written (count it later)."""
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


def distilabel_outputs(out: Path, task: str) -> dict:
    """Output texts per prompt index and, for the judge task, the parsed ratings per pair."""
    generations: dict[int, list[str]] = {}
    judged: dict[int, list[dict]] = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts = row.get("generations") if task == "judge" else [row.get("generation")]
            generations.setdefault(row["idx"], []).extend(t or "" for t in texts or [])
            if task == "judge":
                rated = {"ratings": row.get("ratings"), "responses": len(texts or [])}
                judged.setdefault(row["idx"], []).append(rated)
    found = {"generations": generations}
    if task == "judge":
        found["judged"] = judged
    return found


if __name__ == "__main__":
    run_pipeline(Path(sys.argv[1]))
