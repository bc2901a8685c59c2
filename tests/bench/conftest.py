"""The wheel set bench/gpu/wheels.sh downloads, fetched once per session (a registry is
needed, as for the models the model fixtures pull)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "bench" / "gpu"


def fetch_wheels(dest: Path, python_version: str) -> Path:
    env = {**os.environ, "PYTHON": sys.executable, "PYVER": python_version}
    out = subprocess.run(
        ["bash", str(GPU / "wheels.sh"), str(dest)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )
    if out.returncode != 0:
        pytest.skip(f"bench/gpu/wheels.sh could not download (no registry?): {out.stderr[-500:]}")
    return dest


@pytest.fixture(scope="session")
def gpu_wheels(tmp_path_factory) -> Path:
    """.whl as the GPU machine gets it, for this interpreter's Python version."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return fetch_wheels(tmp_path_factory.mktemp("whl") / ".whl", version)
