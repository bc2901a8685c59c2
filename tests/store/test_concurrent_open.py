"""Several processes opening one new store at the same moment (the ranks of a distributed
training launch, a service and its worker) migrate it once, without colliding."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

OPEN_STORE = """
import sys, time
from accord.store.db import current_revision, head_revision, open_store
start_at = float(sys.argv[2])
while time.time() < start_at:  # line the processes up so they really race
    time.sleep(0.001)
engine = open_store(sys.argv[1])
assert current_revision(engine) == head_revision()
"""


def _open_at_once(url: str, processes: int = 4) -> None:
    import time

    start_at = f"{time.time() + 3.0:.3f}"
    running = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, url, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for process in running:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-3000:]


def _assert_migrated_once(url: str) -> None:
    engine = create_engine(url)
    try:
        assert "judgment" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("select count(*) from alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_processes_opening_a_new_sqlite_store_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    _open_at_once(url)
    _assert_migrated_once(url)


@pytest.mark.postgres
def test_processes_opening_a_new_postgresql_store_at_once(pg_admin_url):
    name = f"accord_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        _open_at_once(url)
        _assert_migrated_once(url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
