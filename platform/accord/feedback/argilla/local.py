"""A local Argilla 2.8 server without Docker, for development, tests and CI.

Argilla's server pins typer<0.10, pydantic~=2.9 and httpx~=0.27, so it cannot share accord's
environment: the first ``start`` builds a separate virtual environment under the home folder
and installs ``argilla-server`` there (and ``redis-server`` from apt when it is missing and
we are root). The stack is Redis, the ``noida-db`` binary (an Elasticsearch-8 compatible
search engine shipped on PyPI), the API server on SQLite and one RQ worker (it delivers
webhooks). Every process gets a PID file and a log under the home folder; ``start`` is
idempotent and ``stop`` ends exactly the processes named by those PID files.

    accord argilla local start               # http://127.0.0.1:6900, api key argilla.apikey
    accord argilla local status --json
    accord argilla local stop [--wipe]

>>> from accord.feedback.argilla.local import LocalArgillaConfig
>>> LocalArgillaConfig(home="/tmp/argilla-home", port=6901).api_url
'http://127.0.0.1:6901'
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

SERVER_REQUIREMENTS = (
    "argilla==2.8.0",
    "argilla-server==2.8.0",
    "click<8.2",  # typer 0.9 (pinned by argilla-server) breaks with click 8.2+
    "huggingface_hub<1",
    "noida-db==0.2.3",
)
# Stopped in this order, each group with TERM, then KILL after a grace period.
STOP_GROUPS = (("worker", "server"), ("search", "redis"))
# A token of each component's command line: a PID file is trusted only when the process it
# names still runs that command (PIDs are reused).
COMMAND_TOKENS = {
    "redis": "redis-server",
    "search": "noida-db",
    "server": "argilla_server",
    "worker": "argilla_server",
}
_MIGRATE_SCRIPT = """
import sys
from argilla_server.cli.database.migrate import migrate_db
from argilla_server.cli.database.users.create_default import create_default
migrate_db(revision="head")
create_default(api_key=sys.argv[1], password=sys.argv[2], quiet=True)
"""


class LocalArgillaError(RuntimeError):
    """The local stack could not be installed or started; the message says which step."""


def _default_home() -> Path:
    from ...settings import Settings

    return Settings().home / "argilla"


@dataclass
class LocalArgillaConfig:
    """Where and on which ports the local Argilla stack runs."""

    home: Path = field(
        default_factory=_default_home,
        metadata={"help": "Folder for the server venv, data, logs and PID files."},
    )
    port: int = field(default=6900, metadata={"help": "Port of the Argilla API and web UI."})
    search_port: int = field(default=9200, metadata={"help": "Port of the search engine."})
    redis_port: int = field(default=6379, metadata={"help": "Port of Redis."})
    host: str = field(default="127.0.0.1", metadata={"help": "Interface every process binds."})
    venv: Path | None = field(
        default=None,
        metadata={"help": "Server virtual environment (default: <home>/venv); may be shared."},
    )
    api_key: str = field(default="argilla.apikey", metadata={"help": "API key of the owner."})
    owner_password: str = field(
        default="12345678", metadata={"help": "Password of the owner user 'argilla'."}
    )
    start_timeout: float = field(
        default=180.0, metadata={"help": "Seconds to wait for each component to be ready."}
    )

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser().absolute()
        self.venv = Path(self.venv).expanduser().absolute() if self.venv else self.home / "venv"
        ports = {"port": self.port, "search_port": self.search_port, "redis_port": self.redis_port}
        for name, value in ports.items():
            if not 0 < int(value) < 65536:
                raise ValueError(f"{name} must be between 1 and 65535, got {value}")
        if len(set(ports.values())) != 3:
            raise ValueError(f"the three ports must differ, got {ports}")
        if len(self.owner_password) < 8:
            raise ValueError("owner_password must have at least 8 characters (Argilla's rule)")
        if self.start_timeout <= 0:
            raise ValueError("start_timeout must be positive")

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    alive: bool
    port: int | None
    log: str


@dataclass
class LocalArgillaStatus:
    api_url: str
    api_key: str
    home: str
    ready: bool
    components: list[ComponentStatus]

    def to_dict(self) -> dict:
        return asdict(self)


def _pid_alive(pid: int, token: str) -> bool:
    try:  # reap it first when it is our own exited child (a zombie still answers kill -0)
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            if fh.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return token in cmdline


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _http_ok(url: str, headers: dict[str, str] | None = None) -> bool:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=3) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _redis_command(host: str, port: int, *args: str) -> str | None:
    """One Redis command over RESP (accord's environment has no redis client)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(payload.encode())
            return sock.recv(4096).decode(errors="replace").strip()
    except OSError:
        return None


def _log_tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class LocalArgilla:
    """Install, start, inspect and stop the local stack described by a config."""

    def __init__(self, config: LocalArgillaConfig, *, echo: Callable[[str], None] | None = None):
        self.config = config
        self.echo = echo or (lambda message: None)
        self._spawned: dict[str, subprocess.Popen] = {}

    # -- install -------------------------------------------------------------------------
    @property
    def _install_marker(self) -> Path:
        return self.config.venv / ".accord-server-requirements"

    def is_installed(self) -> bool:
        marker = self._install_marker
        return (
            shutil.which("redis-server") is not None
            and marker.exists()
            and marker.read_text() == "\n".join(SERVER_REQUIREMENTS)
        )

    def install(self) -> None:
        """Redis from apt (when missing) and the server venv (when missing or incomplete)."""
        if shutil.which("redis-server") is None:
            if os.geteuid() != 0:
                raise LocalArgillaError(
                    "redis-server is not installed and only root can install it: "
                    "run `apt-get install -y redis-server` (or your system's equivalent)"
                )
            self.echo("installing redis-server with apt-get")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "redis-server"],
            ):
                self._run(cmd, env=env, step="apt-get")
        if self._install_marker.exists() and self._install_marker.read_text() == "\n".join(
            SERVER_REQUIREMENTS
        ):
            return
        venv = self.config.venv
        self.echo(f"creating the Argilla server environment in {venv} (about a minute)")
        if not self.config.python.exists():
            self._run([sys.executable, "-m", "venv", str(venv)], step="python -m venv")
        pip = [str(self.config.python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        self._run([*pip, *SERVER_REQUIREMENTS], step="pip install argilla-server")
        self._install_marker.write_text("\n".join(SERVER_REQUIREMENTS))

    def _run(self, cmd: list[str], *, step: str, env: dict | None = None) -> None:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise LocalArgillaError(f"{step} failed (exit {result.returncode}):\n{tail}")

    # -- processes -----------------------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.config.run_dir / f"{name}.pid"

    def _log_file(self, name: str) -> Path:
        return self.config.log_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        try:
            return int(self._pid_file(name).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def alive(self, name: str) -> bool:
        pid = self.pid(name)
        return pid is not None and _pid_alive(pid, COMMAND_TOKENS[name])

    def _env(self) -> dict[str, str]:
        cfg = self.config
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        }
        env.update(
            ARGILLA_HOME_PATH=str(cfg.data_dir / "argilla"),
            ARGILLA_SEARCH_ENGINE="elasticsearch",
            ARGILLA_ELASTICSEARCH=f"http://{cfg.host}:{cfg.search_port}",
            ARGILLA_REDIS_URL=f"redis://{cfg.host}:{cfg.redis_port}/0",
            ARGILLA_ENABLE_TELEMETRY="0",
            HF_HUB_OFFLINE="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            PATH=f"{cfg.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return env

    def _spawn(self, name: str, cmd: list[str]) -> None:
        """Start ``cmd`` in its own session (it outlives this process) and record its PID."""
        with open(self._log_file(name), "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                cwd=self.config.home,
                start_new_session=True,
            )
        self._pid_file(name).write_text(str(proc.pid))
        self._spawned[name] = proc

    def _check_port_free(self, name: str, port: int) -> None:
        if _port_open(self.config.host, port):
            raise LocalArgillaError(
                f"cannot start {name}: port {port} on {self.config.host} is already used by "
                "another process (choose other ports, e.g. --port/--search-port/--redis-port)"
            )

    def _wait(self, name: str, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        while time.monotonic() < deadline:
            if ready():
                return
            # A process spawned just now may not have exec'd yet (its command line is still
            # ours), so judge it by its exit status rather than by its command line.
            proc = self._spawned.get(name)
            if (proc.poll() is not None) if proc is not None else not self.alive(name):
                raise LocalArgillaError(
                    f"{name} exited while starting; last lines of {self._log_file(name)}:\n"
                    f"{_log_tail(self._log_file(name))}"
                )
            time.sleep(0.2)
        raise LocalArgillaError(
            f"{name} not ready after {self.config.start_timeout:.0f} s ({what}); "
            f"see {self._log_file(name)}:\n{_log_tail(self._log_file(name))}"
        )

    def _noida_binary(self) -> Path:
        found = sorted(self.config.venv.glob("lib/python*/site-packages/noida_db/noida-db"))
        if not found:
            raise LocalArgillaError(f"noida-db binary not found in {self.config.venv}; reinstall")
        found[0].chmod(0o755)
        return found[0]

    def api_ready(self) -> bool:
        return _http_ok(
            f"{self.config.api_url}/api/v1/me", {"X-Argilla-Api-Key": self.config.api_key}
        )

    def _workers(self) -> int:
        reply = _redis_command(self.config.host, self.config.redis_port, "SCARD", "rq:workers")
        return int(reply[1:]) if reply and reply.startswith(":") else 0

    def start(self) -> LocalArgillaStatus:
        """Install on first use, then start whatever is not running; returns when all answer."""
        cfg = self.config
        started = time.monotonic()
        if not self.is_installed():
            self.install()
        for folder in (cfg.run_dir, cfg.log_dir, cfg.data_dir / "noida", cfg.data_dir / "argilla"):
            folder.mkdir(parents=True, exist_ok=True)
        python = str(cfg.python)

        if not self.alive("redis"):
            self._check_port_free("redis", cfg.redis_port)
            self._spawn(
                "redis",
                [
                    "redis-server",
                    "--bind",
                    cfg.host,
                    "--port",
                    str(cfg.redis_port),
                    "--dir",
                    str(cfg.data_dir),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            )
        self._wait(
            "redis", lambda: _redis_command(cfg.host, cfg.redis_port, "PING") == "+PONG", "PING"
        )

        if not self.alive("search"):
            self._check_port_free("search", cfg.search_port)
            self._spawn(
                "search",
                [
                    str(self._noida_binary()),
                    "start",
                    "--data-dir",
                    str(cfg.data_dir / "noida"),
                    "--only",
                    "elasticsearch",
                    "--elasticsearch-port",
                    str(cfg.search_port),
                ],
            )
        self._wait("search", lambda: _http_ok(f"http://{cfg.host}:{cfg.search_port}/"), "GET /")
        self.echo(f"redis and search engine up ({time.monotonic() - started:.1f} s)")

        server_running = self.alive("server")
        if not server_running:
            # Migrations and the owner user in one process: each `python -m argilla_server`
            # call pays seconds of imports. Both steps are idempotent.
            migrate_log = self._log_file("migrate")
            with open(migrate_log, "wb") as log:
                result = subprocess.run(
                    [python, "-c", _MIGRATE_SCRIPT, cfg.api_key, cfg.owner_password],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env(),
                    cwd=cfg.home,
                    check=False,
                )
            if result.returncode != 0:
                raise LocalArgillaError(f"database migration failed:\n{_log_tail(migrate_log)}")
            self._check_port_free("server", cfg.port)
            self._spawn(
                "server",
                [
                    python,
                    "-m",
                    "argilla_server",
                    "start",
                    "--host",
                    cfg.host,
                    "--port",
                    str(cfg.port),
                ],
            )
        self._wait("server", self.api_ready, "GET /api/v1/me")
        self.echo(f"API up at {cfg.api_url} ({time.monotonic() - started:.1f} s)")

        # The worker starts after the API so their imports don't compete for the CPU; jobs
        # enqueued meanwhile wait in Redis.
        if not self.alive("worker"):
            self._spawn("worker", [python, "-m", "argilla_server", "worker", "--num-workers", "1"])
        self._wait("worker", lambda: self._workers() >= 1, "a worker registered in Redis")
        self.echo(f"worker up; ready in {time.monotonic() - started:.1f} s")
        return self.status()

    def status(self) -> LocalArgillaStatus:
        cfg = self.config
        ports = {
            "redis": cfg.redis_port,
            "search": cfg.search_port,
            "server": cfg.port,
            "worker": None,
        }
        components = [
            ComponentStatus(
                name=name,
                pid=self.pid(name),
                alive=self.alive(name),
                port=port,
                log=str(self._log_file(name)),
            )
            for name, port in ports.items()
        ]
        ready = all(c.alive for c in components) and self.api_ready()
        return LocalArgillaStatus(
            api_url=cfg.api_url,
            api_key=cfg.api_key,
            home=str(cfg.home),
            ready=ready,
            components=components,
        )

    def stop(self, *, wipe: bool = False, grace: float = 10.0) -> dict[str, str]:
        """TERM each group, KILL what ignores it after ``grace`` s; ``wipe`` deletes the data."""
        outcome: dict[str, str] = {}
        for group in STOP_GROUPS:
            signalled: dict[str, int] = {}
            for name in group:
                pid = self.pid(name)
                if pid is not None and _pid_alive(pid, COMMAND_TOKENS[name]):
                    _signal(pid, signal.SIGTERM)
                    signalled[name] = pid
                else:
                    outcome[name] = "not running"
                self._pid_file(name).unlink(missing_ok=True)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(
                _pid_alive(pid, COMMAND_TOKENS[name]) for name, pid in signalled.items()
            ):
                time.sleep(0.1)
            for name, pid in signalled.items():
                if _pid_alive(pid, COMMAND_TOKENS[name]):
                    _signal(pid, signal.SIGKILL)
                    outcome[name] = f"killed (pid {pid} ignored TERM)"
                else:
                    outcome[name] = f"stopped (pid {pid})"
        if wipe:
            shutil.rmtree(self.config.data_dir, ignore_errors=True)
            outcome["data"] = "wiped"
        return outcome


def _signal(pid: int, sig: int) -> None:
    """Signal the process group the launcher created (the RQ pool has children), or the pid."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def status_json(status: LocalArgillaStatus) -> str:
    return json.dumps(status.to_dict(), indent=2)
