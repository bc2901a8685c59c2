"""bench/bench_decoding.py end to end on the tiny model: both sides produce the same number of
tokens for greedy decoding and every figure is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import ROOT


def test_bench_decoding_writes_side_by_side_figures(tmp_path, tiny_model_dir):
    out = tmp_path / "decoding.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_decoding.py"),
            "--model",
            str(tiny_model_dir),
            "--batches",
            "1",
            "3",
            "--new-tokens",
            "5",
            "--repeats",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT / "platform")},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["decoding"], r["batch"]) for r in rows] == [
        ("greedy", 1),
        ("greedy", 3),
        ("sampled", 1),
        ("sampled", 3),
    ]
    for row in rows:
        assert row["accord_tokens_per_s"] > 0 and row["generate_tokens_per_s"] > 0
        ratio = row["accord_tokens_per_s"] / row["generate_tokens_per_s"]
        assert abs(row["ratio"] - ratio) <= 0.01 * ratio  # the rates are rounded, the ratio not
    greedy = [r for r in rows if r["decoding"] == "greedy"]
    assert all(r["accord_tokens"] == r["generate_tokens"] for r in greedy)
    assert "ratio" in proc.stdout
