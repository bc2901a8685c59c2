"""accord's launcher for a local Argilla stack: idempotent start, status, stop by PID files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.feedback.argilla.local import LocalArgilla, LocalArgillaConfig

from ..fixtures.argilla_server import argilla_venv_dir
from ..fixtures.ports import free_ports

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def test_start_again_is_a_no_op_and_status_reports_every_component(argilla_server):
    launcher = argilla_server.launcher
    if launcher is None:
        pytest.skip("the tests use an external Argilla server")
    before = {c.name: c.pid for c in launcher.status().components}
    started = time.monotonic()
    status = launcher.start()
    assert time.monotonic() - started < 10
    assert status.ready and {c.name: c.pid for c in status.components} == before
    assert all(c.alive for c in status.components)


def test_a_second_stack_starts_and_stops_by_pid_files(tmp_path, argilla_server):
    port, search_port, redis_port = free_ports(3)
    home = tmp_path / "second"
    launcher = LocalArgilla(
        LocalArgillaConfig(
            home=home,
            venv=argilla_venv_dir(),
            port=port,
            search_port=search_port,
            redis_port=redis_port,
        )
    )
    try:
        status = launcher.start()
        assert status.ready and status.api_url == f"http://127.0.0.1:{port}"
        pids = {c.name: c.pid for c in status.components}
        assert all(
            (home / "run" / f"{name}.pid").read_text() == str(pid) for name, pid in pids.items()
        )
        assert (home / "logs" / "server.log").exists()
        # The CLI sees the same stack through the same home.
        from accord.cli.argilla import app

        cli = CliRunner().invoke(
            app,
            [
                "local",
                "status",
                "--home",
                str(home),
                "--port",
                str(port),
                "--search-port",
                str(search_port),
                "--redis-port",
                str(redis_port),
                "--venv",
                str(argilla_venv_dir()),
                "--json",
            ],
        )
        assert cli.exit_code == 0 and '"ready": true' in cli.output
    finally:
        outcome = launcher.stop(wipe=True)
    assert set(outcome) == {"worker", "server", "search", "redis", "data"}
    for pid in pids.values():
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"
    assert not launcher.status().ready and not (home / "data").exists()
