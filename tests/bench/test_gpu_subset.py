"""`bench/gpu/run.sh` on a subset: `--phases` and `--shapes` pass through to measure.py, so a
call can measure only what an earlier call's budget cut short; bad names are refused at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import GPU, ROOT


def _run(args, tmp_path, tiny_model_dir, timeout=600):
    env = {
        **os.environ,
        "OUT": str(tmp_path / "out"),
        "PYTHON": sys.executable,
        "BENCH_WHEELS": str(tmp_path / "no-wheels"),
        "BENCH_WORK": str(tmp_path / "work"),
        "ACCORD_TINY_MODELS_DIR": str(tiny_model_dir.parent),
        "PYTHONPATH": str(ROOT / "platform"),
    }
    return subprocess.run(
        ["bash", str(GPU / "run.sh"), "--dry-run", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--shapes", "qwen2.5-7b"], "--shapes"),
        (["--phases", "generation,rlhf"], "--phases"),
    ],
)
def test_an_unknown_shape_or_phase_is_refused_before_measuring(
    args, named, tmp_path, tiny_model_dir
):
    proc = _run(args, tmp_path, tiny_model_dir, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert named in proc.stdout + proc.stderr
    assert not (tmp_path / "out" / "figures.json").exists()


@pytest.mark.slow
def test_one_phase_of_one_shape(tmp_path, tiny_model_dir):
    proc = _run(["--phases", "generation", "--shapes", "dry-b"], tmp_path, tiny_model_dir)
    assert proc.returncode == 0, proc.stdout[-3000:]
    figures = json.loads((tmp_path / "out" / "figures.json").read_text())
    assert figures["shapes"] == ["dry-b"] and list(figures["phases"]) == ["generation"]
    measured = figures["phases"]["generation"]["figures"]
    assert "dry-b/generate/batch4" in measured and "dry-b/judge" in measured
    assert not any(key.startswith("dry-a/") for key in measured)
    assert all("error" not in value for value in measured.values())
