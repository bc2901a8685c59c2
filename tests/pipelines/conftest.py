"""Helpers of the recipe tests: run ``accord run`` as a subprocess in a fresh home and store,
and count the rows of every table of the store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "pipelines"


@dataclass
class RecipeRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def said(self) -> str:
        """stderr with runs of whitespace collapsed (rich wraps long lines where it likes)."""
        return " ".join(self.stderr.split())


@dataclass
class RecipeRunner:
    """Runs recipes with ``accord run`` in its own working folder, home and SQLite store."""

    folder: Path
    env: dict[str, str]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.folder / 'accord.db'}"

    @property
    def home(self) -> Path:
        return Path(self.env["ACCORD_HOME"])

    def run(self, recipe: str | Path, *extra: str, timeout: float = 1800) -> RecipeRun:
        command = [
            sys.executable,
            "-m",
            "accord.cli.main",
            "run",
            str(recipe),
            "--db",
            self.db_url,
            "--no-progress",
            *extra,
        ]
        started = time.perf_counter()
        done = subprocess.run(
            command,
            check=False,
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return RecipeRun(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)

    def row_counts(self) -> dict[str, int]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return {
                    t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
                    for t in inspect(conn).get_table_names()
                }
        finally:
            engine.dispose()


@pytest.fixture
def recipe_runner(tmp_path) -> RecipeRunner:
    env = dict(os.environ)
    env.update(
        {
            "ACCORD_HOME": str(tmp_path / "home"),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    env.pop("ACCORD_DATABASE_URL", None)
    for key in (
        "ARGILLA_API_URL",
        "ARGILLA_API_KEY",
    ):  # recipes must not reach a server by accident
        env.pop(key, None)
    return RecipeRunner(folder=tmp_path, env=env)


def tiny_variant(recipe: str | Path, folder: Path) -> Path:
    """The shipped recipe with every model replaced by the tiny offline one (mechanics only:
    same steps, names and options), written to ``folder``; its relative paths still resolve
    against pipelines/."""
    import yaml

    path = Path(recipe) if Path(recipe).is_file() else PIPELINES / f"{recipe}.yaml"
    data = yaml.safe_load(path.read_text())
    for model in data.get("models", {}).values():
        model["model"] = "accord/tiny"
    for step in data["steps"]:
        if "base_model" in step:
            step["base_model"] = "accord/tiny"
        if step["kind"] == "train_dpo":
            step["learning_rate"] = 5.0e-4
    data["base_dir"] = str(path.parent)
    out = folder / path.name
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return out
