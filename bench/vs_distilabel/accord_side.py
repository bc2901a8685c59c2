"""accord's side of the comparison: the recipe it runs (``accord run``) and the rows its
store holds, read straight from the SQLite file (read-only, while the run may still write)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

JUDGE_PRINCIPLE = ("tiny-test", "helpful")


def accord_recipe(spec: dict) -> dict:
    """``import_prompts`` + ``generate`` (+ ``make_pairs`` + ``judge`` in both orders for the
    judge task) on the spec's backend: B × n rows per backend batch, or B × n requests in
    flight against the server."""
    rows = spec["batch_size"] * spec["n"]
    if spec["backend"] == "transformers":
        policy = {
            "backend": "transformers",
            "model": spec["model"],
            "options": {"batch_size": rows},
        }
    else:
        policy = {
            "backend": "openai", "model": spec["served_name"],
            "options": {"base_url": spec["base_url"], "max_concurrency": rows, "timeout": 600},
        }  # fmt: skip
    steps = [
        {"kind": "import_prompts", "file": spec["prompts_file"]},
        {
            "kind": "generate", "n": spec["n"], "temperature": spec["temperature"],
            "top_p": spec["top_p"], "max_tokens": spec["max_tokens"], "batch_size": rows,
        },
    ]  # fmt: skip
    if spec["task"] == "judge":
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
    return [sys.executable, "-m", "accord.cli.main", "run", str(recipe), "--db", db,
            "--no-progress"]  # fmt: skip


def sqlite_rows(db: Path, sql: str) -> list[tuple]:
    """The rows of a read-only query; none while the file is missing, being created or busy."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute(sql).fetchall()
    except sqlite3.Error:  # not created yet, or busy: nothing counted this time
        return []


def accord_units(work: Path) -> int:
    """Rows written so far: initial responses plus aggregate judgments."""
    found = sqlite_rows(
        work / "accord.db",
        "SELECT (SELECT count(*) FROM response WHERE role = 'initial'), "
        "(SELECT count(*) FROM judgment WHERE is_aggregate)",
    )
    return sum(found[0]) if found else 0


def accord_outputs(work: Path, prompts: list[str], task: str) -> dict:
    """Output texts per prompt index and, for the judge task, P(A) per order for each pair."""
    db = work / "accord.db"
    index = {text: i for i, text in enumerate(prompts)}
    texts_by_prompt: dict[int, list[str]] = {}
    for text, response in sqlite_rows(
        db,
        "SELECT p.text, r.text FROM response r JOIN prompt p ON p.id = r.prompt_id "
        "WHERE r.role = 'initial'",
    ):
        texts_by_prompt.setdefault(index[text], []).append(response)
    out: dict = {"generations": texts_by_prompt}
    if task == "judge":
        judged: dict[int, dict] = {}
        for text, pair_id, order, prob in sqlite_rows(
            db,
            "SELECT p.text, j.pair_id, j.presentation_order, j.prob_a FROM judgment j "
            "JOIN pair pr ON pr.id = j.pair_id JOIN prompt p ON p.id = pr.prompt_id "
            "WHERE j.kind = 'ai'",
        ):
            judged.setdefault(index[text], {}).setdefault(pair_id, {})[order] = prob
        out["judged"] = {i: list(pairs.values()) for i, pairs in judged.items()}
    return out
