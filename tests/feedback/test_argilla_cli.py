"""``accord argilla`` commands against the real server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from accord.cli.argilla import app

from .conftest import PASSWORD, seed_pairs

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


@pytest.fixture
def cli(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    runner = CliRunner()

    def run(*args: str) -> dict | list:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return run


def test_users_push_pull_and_webhook_commands(cli, store, unique_name, make_annotator, connection):
    created = cli(
        "users", "create", f"{unique_name}-cli", "--password", PASSWORD, "--workspace", unique_name
    )
    assert created["created"] and created["workspaces"] == [unique_name]
    again = cli(
        "users", "create", f"{unique_name}-cli", "--password", PASSWORD, "--workspace", unique_name
    )
    assert not again["created"] and again["id"] == created["id"]
    listed = cli("users", "list", "--workspace", unique_name)
    assert [u["username"] for u in listed if u["role"] == "annotator"] == [f"{unique_name}-cli"]

    seed_pairs(store, 3, tag="cli")
    db = str(store.url)
    pushed = cli(
        "push",
        "--dataset",
        unique_name,
        "--workspace",
        unique_name,
        "--db",
        db,
        "--min-submitted",
        "1",
        "--constitution",
        "tiny-test",
        "--limit",
        "2",
    )
    assert (pushed["selected"], pushed["created"]) == (2, 2)
    dataset = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}")
    assert "**harmless**" in dataset["guidelines"]
    annotator = make_annotator(f"{unique_name}-cli", unique_name)
    items = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}/records")["items"]
    annotator.submit(items[0]["id"], "tie")
    pulled = cli("pull", "--dataset", unique_name, "--db", db)
    assert (pulled["records"], pulled["created"], pulled["problems"]) == (2, 1, [])
    assert cli("pull", "--dataset", unique_name, "--db", db)["unchanged"] == 1

    hook = cli("webhook", "--url", f"http://127.0.0.1:9/{unique_name}")
    try:
        assert hook["url"].endswith(f"/{unique_name}/api/argilla/webhook") and hook["secret"]
    finally:
        connection.http.delete(f"/api/v1/webhooks/{hook['id']}")


def test_errors_from_argilla_are_one_clear_line(
    argilla_server, store, unique_name, make_annotator, monkeypatch
):
    runner = CliRunner()
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    missing = runner.invoke(
        app, ["pull", "--dataset", f"{unique_name}-none", "--db", str(store.url)]
    )
    assert missing.exit_code == 1 and "no Argilla dataset named" in missing.output
    annotator = make_annotator(f"{unique_name}-weak", unique_name)
    monkeypatch.setenv("ARGILLA_API_KEY", annotator.api_key)  # annotators may not list users
    forbidden = runner.invoke(app, ["users", "list"])
    assert forbidden.exit_code == 1 and "HTTP 403" in forbidden.output
    assert "Traceback" not in forbidden.output + missing.output
