"""bench/bench_vs_distilabel.py: the side-by-side table with distilabel, its kill test and its
figures JSON, on the tiny model (``--dry-run``), distilabel 1.5.3 in the script's own virtual
environment (created on first use; skipped when no package registry can provide it)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "bench" / "bench_vs_distilabel.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_vs_distilabel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, env=env, timeout=timeout)  # fmt: skip


def test_rows_lost_and_duplicated_are_counted_per_prompt():
    bench = load()
    reference = {0: 2, 1: 2, 2: 2}
    assert bench.lost_and_duplicated({0: 2, 1: 2, 2: 2}, reference) == (0, 0)
    assert bench.lost_and_duplicated({0: 2, 2: 1}, reference) == (3, 0)
    assert bench.lost_and_duplicated({0: 4, 1: 2, 2: 2}, reference) == (0, 2)


def test_bad_options_fail_naming_the_option():
    done = run("--workloads", "generation-transformers,nonsense")
    assert done.returncode == 2 and "--workloads: unknown nonsense" in done.stderr
    done = run("--prompts", "0")
    assert done.returncode == 2 and "--prompts must be at least 1" in done.stderr
    done = run("--prompts", "1000")
    assert done.returncode != 0 and "--prompts: at most" in done.stderr


@pytest.mark.slow
def test_dry_run_prints_the_table_and_writes_every_figure(tiny_model_dir, tmp_path):
    out = tmp_path / "vs.json"
    done = run("--dry-run", "--skip-vllm", "--model-dir", str(tiny_model_dir),
               "--workloads", "generation-transformers,judge", "--rerun-timeout", "30",
               "--json", str(out))  # fmt: skip
    if done.returncode != 0 and "could not create distilabel's environment" in done.stderr:
        pytest.skip(done.stderr[-500:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "accord / distilabel" in done.stdout and "kill -9: lost / duplicated" in done.stdout
    figures = json.loads(out.read_text())
    assert figures["meta"]["distilabel"]["distilabel"] == "1.5.3" and figures["meta"]["dry_run"]
    assert not figures["failed"]
    gen, judge = figures["workloads"]["generation-transformers"], figures["workloads"]["judge"]
    for tool in ("accord", "distilabel"):
        assert gen[tool]["rows"] == 8 and gen[tool]["output_tokens"] > 0  # 4 prompts × 2
        assert judge[tool]["rows"] == 4 and judge[tool]["generations"] == 8  # one pair per prompt
        for run_ in (gen[tool], judge[tool]):
            assert (
                run_["wall_s"] > 0 and run_["peak_rss_mb"] > 0 and run_["kill"]["rows_planned"] > 0
            )
    assert judge["accord"]["judge"]["with_both_orders"] == 4
    assert judge["distilabel"]["judge"]["pairs"] == 4
    for run_ in (gen["accord"], judge["accord"]):  # the job resumes: nothing lost, nothing twice
        kill = run_["kill"]
        assert kill["rerun_finished"] and kill["lost"] == 0 and kill["duplicated"] == 0
