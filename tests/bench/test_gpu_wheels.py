"""The wheels bench/gpu/wheels.sh carries complete a clean Python with only the GPU image's
packages: everything bench/gpu imports (directly, in the bench drivers it reuses, in their
child scripts, and in the accord modules they reach, imports inside functions included)
imports there, and every requirement of a carried wheel is met. The venv is Python 3.11 with
torch's CPU wheel (the wheel set is fetched for 3.11 with the same pins; the GPU image is 3.12)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GPU, ROOT, fetch_wheels

pytestmark = pytest.mark.slow

# The GPU image's packages that the measured paths can use (it has more: peft, scipy,
# scikit-learn, matplotlib, sentencepiece, not needed here); torch is this machine's CPU 2.13.
IMAGE = [
    "torch==2.13.0",
    "transformers==5.17.0",
    "accelerate==1.15.*",
    "numpy",
    "pandas",
    "pyarrow",
    "safetensors",
    "tokenizers",
    "pyyaml",
    "rich",
    "typer",
    "jinja2",
    "httpx",
    "requests",
    "tqdm",
    "psutil",
    "fsspec<=2026.2.0",
    "xxhash",
]
# fsspec: the image's is one the carried datasets 4.8.5 accepts (<= 2026.2.0; the GPU run of
# 2026-12-04 imported it); an unpinned install here would take a newer one the image lacks.
# Reached in source but not on the measured paths: vLLM rollouts, the OpenAI backend, ZeRO-3.
NOT_MEASURED = {"vllm", "openai", "deepspeed", "psycopg", "argilla", "gguf", "fastapi", "uvicorn"}
ENTRY = [
    GPU / "measure.py",
    GPU / "plan.py",
    GPU / "shapes.py",
    GPU / "report.py",
    *(ROOT / "bench" / f"bench_{n}.py" for n in ("jobs", "backends", "dpo", "ppo")),
]


def imports_of(source: str, package: str = "") -> set[str]:
    """Modules imported anywhere in ``source``; relative ones resolved against ``package``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and package:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            names |= (
                {f"{base}.{node.module}"}
                if node.module
                else {f"{base}.{a.name}" for a in node.names}
            )
    return names


def accord_file(module: str) -> Path | None:
    base = ROOT / "platform" / Path(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def measured_imports() -> set[str]:
    """Every module bench/gpu can import, closed over accord's own sources."""
    sys.path[:0] = [str(ROOT / "bench")]
    try:
        import bench_ppo
    finally:
        sys.path.remove(str(ROOT / "bench"))
    found = set().union(
        *(imports_of(p.read_text()) for p in ENTRY), imports_of(bench_ppo.ACCORD_CHILD)
    )  # TRL_CHILD runs on trl 1.12: below
    todo = [m for m in found if m.startswith("accord")]
    while todo:
        module = todo.pop()
        path = accord_file(module)
        package = module if path and path.name == "__init__.py" else module.rpartition(".")[0]
        for name in imports_of(path.read_text(), package) if path else ():
            if name.startswith("accord") and name not in found:
                todo.append(name)
            found.add(name)
    local = {
        "measure",
        "plan",
        "shapes",
        "report",
        "bench_jobs",
        "bench_backends",
        "bench_dpo",
        "bench_ppo",
    }
    found = {
        m for m in found if not m.startswith("accord") or accord_file(m)
    }  # not `from . import f`
    return {
        m
        for m in found
        if m.split(".")[0] not in NOT_MEASURED | local | set(sys.stdlib_module_names)
        and not m.startswith("accord.cli")
        and not m.startswith("accord.service")
    } | local


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    out = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-compile", *IMAGE],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    if out.returncode != 0:
        pytest.skip(f"the image's packages could not be installed: {out.stderr[-500:]}")
    return python


def test_wheel_set_completes_the_image(image_venv, tmp_path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    wheels = fetch_wheels(tmp_path / ".whl", version)
    site, site_trl = tmp_path / "site", tmp_path / "site-trl112"
    for into, files in (
        (site, wheels.glob("*.whl")),
        (site_trl, (wheels / "trl112").glob("*.whl")),
    ):
        subprocess.run(
            [
                image_venv,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--no-compile",
                "--upgrade",
                "--target",
                str(into),
                *map(str, files),
            ],
            check=True,
        )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(map(str, (site, ROOT / "platform", GPU, ROOT / "bench"))),
        "ACCORD_HOME": str(tmp_path / "home"),
    }
    modules = sorted(measured_imports())
    assert {
        "trl",
        "datasets",
        "sqlmodel",
        "alembic",
        "pydantic_settings",
        "accord.train.dpo",
    } <= set(modules)
    check = (
        "import importlib, importlib.metadata as md, sys\n"
        "from packaging.requirements import Requirement\n"
        "bad = []\n"
        f"for m in {modules!r}:\n"
        "    try: importlib.import_module(m)\n"
        "    except Exception as e: bad.append(f'import {m}: {type(e).__name__}: {e}')\n"
        f"for d in md.distributions(path=[{str(site)!r}]):\n"
        "    for r in map(Requirement, d.requires or []):\n"
        "        if r.marker and not r.marker.evaluate({'extra': ''}): continue\n"
        "        try: v = md.version(r.name)\n"
        "        except md.PackageNotFoundError: bad.append(f'{d.name} needs {r}: missing'); "
        "continue\n"
        "        if not r.specifier.contains(v, prereleases=True): bad.append(f'{d.name} needs "
        "{r}: {v}')\n"
        "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run(
        [image_venv, "-c", check], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]

    trl112 = {**env, "PYTHONPATH": f"{site_trl}{os.pathsep}{env['PYTHONPATH']}"}
    probe = (
        "import trl, datasets\n"
        "try:\n    from trl.experimental.ppo import PPOConfig, PPOTrainer\n"
        "except ImportError:\n    from trl import PPOConfig, PPOTrainer\n"
        "print(trl.__version__)"
    )
    out = subprocess.run(
        [image_venv, "-c", probe], capture_output=True, text=True, env=trl112, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "1.12.0", out.stderr[-3000:]
