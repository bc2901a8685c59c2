"""A large file is imported in bounded memory: reading is line by line and writing in
batches, so the peak RSS grows by far less than the file's size."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

ROWS = 50_000
FILLER = "lorem ipsum dolor sit amet " * 36  # ~1 KB per row, ~50 MB in all


@pytest.mark.slow
def test_50mb_file_imports_with_bounded_memory(tmp_path):
    big = tmp_path / "big.jsonl"
    with open(big, "w") as f:
        f.writelines(
            json.dumps(
                {
                    "prompt": f"question {i}: {FILLER[:200]}",
                    "chosen": f"good {i} {FILLER[:400]}",
                    "rejected": f"bad {i} {FILLER[:400]}",
                }
            )
            + "\n"
            for i in range(ROWS)
        )
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    size_mb = big.stat().st_size / 2**20
    assert size_mb > 45
    script = textwrap.dedent(f"""
        import json, resource
        from accord.store.db import open_store
        from accord.importer import import_file
        engine = open_store("sqlite:///{tmp_path / "store.db"}")
        import_file(engine, "{small}", fmt="trl")  # every module and the engine are loaded
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = import_file(engine, "{big}", fmt="trl")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"growth_mb": (after - before) / 1024, "pairs": report.new["pairs"]}}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=1200
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["pairs"] == ROWS
    # Bounded by a batch (1000 rows or 2 M characters of text and its copies), not by the file.
    assert result["growth_mb"] < size_mb / 2.5, result
