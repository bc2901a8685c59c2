"""The CLI's output rules, on the real command in a subprocess with a real (tiny) model:
stdout holds results only (``--json`` parses), stderr holds accord's progress as plain lines
when it is not a terminal, and library noise (transformers' weight-loading bar, warnings,
DeepSpeed's accelerator notice) goes to ``<home>/logs/accord.log``; ``--verbose`` shows it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow

NOISE = ("Loading weights", "it/s]", "UserWarning", "FutureWarning", "DeepSpeed", "[WARNING]")


def _recipe(tmp_path):
    """Generate with the tiny model: loads weights, tokenizes, samples (a few seconds)."""
    recipe = {
        "name": "quiet",
        "seed": 0,
        "models": {"policy": {"backend": "transformers", "model": "accord/tiny"}},
        "steps": [
            {"kind": "import_prompts", "name": "prompts", "bundled": "quickstart", "limit": 2},
            {"kind": "generate", "model": "policy", "n": 1, "max_tokens": 4},
        ],
    }
    path = tmp_path / "quiet.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _accord(recipe_runner, *args):
    command = [sys.executable, "-m", "accord.cli.main", *args]
    return subprocess.run(
        command,
        cwd=recipe_runner.folder,
        env=recipe_runner.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_json_stdout_is_only_json_and_library_noise_goes_to_the_log(recipe_runner, tmp_path):
    recipe = _recipe(tmp_path)
    done = _accord(recipe_runner, "run", str(recipe), "--db", recipe_runner.db_url, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # nothing else on stdout
    assert result["status"] == "succeeded" and result["steps"]["generate"]["responses"] == 2
    for noise in NOISE:
        assert noise not in done.stdout and noise not in done.stderr, noise
    log = recipe_runner.home / "logs" / "accord.log"
    text = log.read_text()
    assert "--- " in text and "accord run" in text  # one header line per command
    assert "Loading weights" in text  # transformers' bar drew into the log, not the terminal


def test_progress_is_plain_lines_when_not_a_terminal(recipe_runner, tmp_path):
    recipe = _recipe(tmp_path)
    done = _accord(recipe_runner, "run", str(recipe), "--db", recipe_runner.db_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "generate: 2 to do" in done.stderr and "generate: done 2/2 in" in done.stderr
    assert "generate: generate" not in done.stderr  # a step named after its activity, once
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr  # no redraws, no escapes
    assert "Loading weights" not in done.stderr
    assert done.stdout.startswith("job 1 succeeded")  # results on stdout


def test_verbose_shows_library_output_on_stderr(recipe_runner, tmp_path):
    recipe = _recipe(tmp_path)
    done = _accord(
        recipe_runner, "--verbose", "run", str(recipe), "--db", recipe_runner.db_url, "--json"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    json.loads(done.stdout)  # --verbose never touches stdout either
    assert "Loading weights" in done.stderr
