"""`bench/gpu/run.sh --dry-run`: the code the GPU machine runs, on the CPU with tiny shapes,
end to end: wheels from bench/gpu/wheels.sh (trl 1.12 in its own folder), every phase in its
own process, figures.json + figures.md + run.log under $OUT, and the README table from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import GPU, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dry_run(gpu_wheels, tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-out")
    env = {
        **os.environ,
        "OUT": str(out),
        "PYTHON": sys.executable,
        "BENCH_WHEELS": str(gpu_wheels),
        "BENCH_WORK": str(tmp_path_factory.mktemp("gpu-work")),
        "ACCORD_TINY_MODELS_DIR": str(tiny_model_dir.parent),
        "PYTHONPATH": str(ROOT / "platform"),
    }
    proc = subprocess.run(
        ["bash", str(GPU / "run.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=1500,
    )
    return proc, out


def test_dry_run_measures_every_figure(dry_run):
    proc, out = dry_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    figures = json.loads((out / "figures.json").read_text())
    assert figures["plan"] == "dry" and figures["machine"]["gpu"] is None
    assert {n: p["status"] for n, p in figures["phases"].items()} == dict.fromkeys(
        ("generation", "dpo", "ppo"), "exit 0"
    )
    figs = {k: v for p in figures["phases"].values() for k, v in p["figures"].items()}
    assert not {k: v["error"] for k, v in figs.items() if "error" in v}
    for shape in ("dry-a", "dry-b"):
        assert figs[f"{shape}/load"]["vocab_size"] > figs[f"{shape}/load"]["tokenizer_size"]
        for batch in (1, 4):
            for kind in ("generate", "raw_generate"):
                assert figs[f"{shape}/{kind}/batch{batch}"]["tokens_per_s"] > 0
        judge = figs[f"{shape}/judge"]
        assert judge["all_requests_of_a_pair_in_one_call"] and judge["pairs_per_s"] > 0
        assert figs[f"{shape}/job_overhead"]["job_tok_s"] > 0
    assert figs["dpo/recomputed"]["runs"][0]["ref_cache_hit"] is False
    assert figs["dpo/cache_fill"]["runs"][0]["ref_cache_hit"] is False
    assert figs["dpo/cached"]["runs"][0]["ref_cache_hit"] is True
    assert figs["ppo/accord"]["step_seconds"] > 0 and figs["ppo/trl112"]["step_seconds"] > 0


def test_dry_run_leaves_its_table_and_log(dry_run, tmp_path):
    proc, out = dry_run
    table = (out / "figures.md").read_text()
    assert "| dry-a | 4 |" in table and "| PPO, trl 1.12 PPOTrainer |" in table
    assert table in proc.stdout  # printed at the end as well
    assert "== exit 0" in (out / "run.log").read_text()
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    report = subprocess.run(
        [
            sys.executable,
            str(GPU / "report.py"),
            str(out / "figures.json"),
            "--readme",
            str(readme),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert table in readme.read_text()
