"""Wall and CPU time of the quickstart, first run and rerun, side by side.

Why: the README promises the whole loop in a few minutes on 2 CPU cores, and that a rerun
recomputes nothing. This runs `accord run quickstart` twice in a fresh folder (own SQLite store
and ACCORD_HOME; SmolLM2 is used from where `accord models pull` put it: ACCORD_MODELS_DIR,
else ./.accord/models) and prints, for each run, the
wall time, the CPU time of the process (user + system) and the machine's load average, then the
rerun's share of the first run.

    python bench/bench_quickstart.py                 # about 2–6 minutes on 2 shared cores
    python bench/bench_quickstart.py --keep DIR      # keep the store and reports in DIR
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(folder: Path, env: dict[str, str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli.main",
            "run",
            "quickstart",
            "--db",
            f"sqlite:///{folder / 'accord.db'}",
            "--no-progress",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"accord run failed:\n{done.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep", type=Path, help="Folder to run in and keep (default: a temporary one)."
    )
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-quickstart-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ACCORD_HOME": str(folder / "home"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    # The pulled model stays where it was installed, not in the fresh home.
    env.setdefault(
        "ACCORD_MODELS_DIR",
        str((Path(os.environ.get("ACCORD_HOME", ".accord")) / "models").resolve()),
    )
    try:
        rows = []
        for label in ("first run", "rerun"):
            wall, cpu, cores = run_once(folder, env)
            rows.append((label, wall, cpu, os.getloadavg()[0]))
        print(f"quickstart on {cores} cores (SmolLM2-135M-Instruct, SQLite)")
        print(f"{'':<10} {'wall s':>8} {'cpu s':>8} {'load':>6}")
        for label, wall, cpu, load in rows:
            print(f"{label:<10} {wall:8.1f} {cpu:8.1f} {load:6.1f}")
        print(
            f"rerun / first run: wall {rows[1][1] / rows[0][1]:.2f}, cpu "
            f"{rows[1][2] / rows[0][2]:.2f}"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
