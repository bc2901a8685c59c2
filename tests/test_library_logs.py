"""accord's stdout carries only its own output: library loggers that write to stdout are moved
to stderr (DeepSpeed, imported by accelerate whenever installed, warns on every CPU import)."""

import json
import os
import subprocess
import sys

import pytest


def test_importing_deepspeed_after_accord_writes_nothing_on_stdout():
    if not os.environ.get("CI"):  # CI installs DeepSpeed (scripts/setup.sh --full)
        pytest.importorskip("deepspeed")
    done = subprocess.run(
        [sys.executable, "-c", "import accord, accelerate, deepspeed"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stdout == ""


def test_json_output_of_a_command_that_loads_accelerate_is_clean(tmp_path):
    # the snapshot listing imports nothing heavy; training commands import accelerate: a model
    # build is the cheapest command path that does
    script = (
        "import json, accord.train.common, accelerate; from accord.cli.main import main; "
        "import sys; sys.argv = ['accord', 'stats', '--json', '--db', sys.argv[1]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{tmp_path / 's.db'}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["pairs"] == 0
