"""``accord users``, ``accord worker`` and ``accord serve`` as Typer commands."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from accord.cli import service as service_cli


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(service_cli.users_app, name="users")
    app.command("worker")(service_cli.worker)
    app.command("serve")(service_cli.serve)
    return app


def test_users_create_prints_the_token_once_and_list(sqlite_url):
    from accord.service.users import user_for_token
    from accord.store.db import open_store, session_scope

    runner = CliRunner()
    made = runner.invoke(
        cli(), ["users", "create", "ada", "--role", "engineer", "--db", sqlite_url]
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    with session_scope(open_store(sqlite_url)) as s:
        assert user_for_token(s, token=token).name == "ada"
    listed = runner.invoke(cli(), ["users", "list", "--json", "--db", sqlite_url])
    rows = json.loads(listed.output)
    assert [(r["name"], r["role"]) for r in rows] == [("ada", "engineer")]
    assert token not in listed.output
    bad = runner.invoke(cli(), ["users", "create", "bob", "--role", "root", "--db", sqlite_url])
    assert bad.exit_code == 1 and "role must be one of" in bad.output


def test_worker_once_and_serve_help(sqlite_url):
    runner = CliRunner()
    once = runner.invoke(cli(), ["worker", "--once", "--db", sqlite_url])
    assert once.exit_code == 0 and "no job was queued" in once.output
    helped = runner.invoke(cli(), ["serve", "--help"])
    assert "--with-worker" in helped.output and "--port" in helped.output
