"""Roles and token expiry: ``accord users set-role``, ``--expires``, and the last admin, through
the CLI and the API on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from typer.testing import CliRunner

from accord.service.users import user_for_token
from accord.store.db import open_store, session_scope
from accord.store.models import User

from .conftest import bearer
from .test_cli import cli


def run(*args):
    result = CliRunner().invoke(cli(), [str(a) for a in args])
    result.text = " ".join(result.output.split())
    return result


def test_set_role_expires_and_the_last_admin(db_url):
    made = run("users", "create", "root", "--role", "admin", "--db", db_url)
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    refused = run("users", "set-role", "root", "viewer", "--db", db_url)
    assert refused.exit_code == 1 and "last active admin" in refused.text
    assert run("users", "deactivate", "root", "--db", db_url).exit_code == 1
    assert run("users", "create", "ada", "--role", "engineer", "--db", db_url).exit_code == 0
    promoted = run("users", "set-role", "ada", "admin", "--expires", "30d", "--db", db_url)
    assert promoted.exit_code == 0 and "ada is now admin" in promoted.text
    assert run("users", "set-role", "root", "viewer", "--db", db_url).exit_code == 0
    rows = {r["name"]: r for r in json.loads(run("users", "list", "--json", "--db", db_url).output)}
    assert rows["root"]["role"] == "viewer" and rows["root"]["token_expires_at"] is None
    expires = datetime.fromisoformat(rows["ada"]["token_expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    with session_scope(open_store(db_url)) as s:
        assert user_for_token(s, token=token).role == "viewer"
    bad = run("users", "set-role", "ada", "root", "--db", db_url)
    assert bad.exit_code == 1 and "role must be one of" in bad.text
    past = run(
        "users", "create", "old", "--role", "viewer", "--expires", "2001-01-01", "--db", db_url
    )
    assert past.exit_code == 1 and "not in the future" in past.text
    nonsense = run("users", "rotate-token", "ada", "--expires", "soon", "--db", db_url)
    assert nonsense.exit_code == 1 and "not a duration" in nonsense.text


def test_an_expired_token_no_longer_signs_in(client):
    from accord.service.users import create_user, parse_expiry

    engine = client.app.state.engine
    with session_scope(engine) as s:
        _, token = create_user(s, name="temp", role="viewer", expires_at=parse_expiry("1h"))
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    with session_scope(engine) as s:
        s.execute(
            update(User)
            .where(User.name == "temp")
            .values(token_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_the_api_keeps_the_last_admin(client, tokens):
    h = bearer(tokens["admin"])
    users = client.get("/api/users", headers=h).json()["items"]
    admin = next(u for u in users if u["role"] == "admin")
    for change in ({"role": "viewer"}, {"active": False}):
        r = client.patch(f"/api/users/{admin['id']}", json=change, headers=h)
        assert r.status_code == 409 and "last active admin" in r.text
    made = client.post(
        "/api/users",
        json={"name": "second", "role": "admin", "expires_at": "2099-01-01T00:00:00Z"},
        headers=h,
    )
    assert made.status_code == 201 and made.json()["user"]["token_expires_at"].startswith("2099")
    assert (
        client.patch(f"/api/users/{admin['id']}", json={"role": "viewer"}, headers=h).status_code
        == 200
    )
