"""Parts of the Argilla integration that need no server: layout, selection, errors, config."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from accord.feedback.argilla import schema
from accord.feedback.argilla.client import ArgillaConfigError, ArgillaUnavailableError, connect
from accord.feedback.argilla.local import LocalArgilla, LocalArgillaConfig
from accord.feedback.argilla.selection import PairSelection, select_pair_ids
from accord.feedback.argilla.webhooks import WebhookVerificationError, verify_and_ingest
from accord.store.crud.judgments import upsert_judgment
from accord.store.db import session_scope
from accord.store.models import Pair, Snapshot, SnapshotExample

from .conftest import seed_pairs


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_shown_order_is_stable_balanced_and_reversible():
    hashes = [f"{i:064x}" for i in range(400)]
    orders = [schema.shown_order(h, seed=0) for h in hashes]
    assert orders == [schema.shown_order(h, seed=0) for h in hashes]
    assert 150 < orders.count("ab") < 250
    assert orders != [schema.shown_order(h, seed=1) for h in hashes]
    for order in schema.ORDERS:
        for side in ("a", "b", "tie"):
            assert schema.to_canonical(schema.to_shown(side, order), order) == side
    with pytest.raises(ValueError, match="shown order"):
        schema.to_canonical("a", "xy")


def test_guidelines_from_constitution_and_file(tmp_path):
    text = schema.guidelines_from_constitution("tiny-test")
    assert "Which response is better?" in text and "**harmless**" in text and "**helpful**" in text
    path = tmp_path / "g.md"
    path.write_text("# Label carefully\n")
    assert schema.guidelines_from_file(path) == "# Label carefully\n"
    (tmp_path / "empty.md").write_text("  \n")
    with pytest.raises(ValueError, match="empty.md: guidelines file is empty"):
        schema.guidelines_from_file(tmp_path / "empty.md")


def test_selection_filters(store):
    ids = seed_pairs(store, 5, tag="sel", prompt_source="gsm")
    other = seed_pairs(store, 2, tag="other", prompt_source="chat")
    with session_scope(store) as s:
        pair = s.get(Pair, ids[0])
        upsert_judgment(s, pair=pair, kind="human", judge="ann", preferred="a")
        upsert_judgment(s, pair=s.get(Pair, ids[1]), kind="ai", judge="judge", preferred="b")
        s.get(Pair, ids[2]).job_id = None
        snap = Snapshot(name="snap-1", policy="majority", content_hash="0" * 64)
        s.add(snap)
        s.flush()
        for pos, pid in enumerate(ids[3:]):
            p = s.get(Pair, pid)
            s.add(
                SnapshotExample(
                    snapshot_id=snap.id,
                    position=pos,
                    example_hash=str(pos),
                    pair_id=pid,
                    prompt_id=p.prompt_id,
                    chosen_id=p.response_a_id,
                    rejected_id=p.response_b_id,
                    split="train",
                )
            )
    # Unlabelled by default: the pair with a human label is left out (AI labels don't count).
    assert select_pair_ids(store, PairSelection()) == ids[1:] + other
    assert select_pair_ids(store, PairSelection(prompt_source="chat")) == other
    assert select_pair_ids(store, PairSelection(pair_source="sel", limit=2)) == ids[1:3]
    assert select_pair_ids(store, PairSelection(snapshot="snap-1")) == ids[3:]
    assert select_pair_ids(store, PairSelection(pair_ids=[ids[0], other[0]])) == [ids[0], other[0]]
    assert select_pair_ids(store, PairSelection(unlabelled_only=False, prompt_source="gsm")) == ids
    with pytest.raises(ValueError, match="no pair with id 999"):
        select_pair_ids(store, PairSelection(pair_ids=[ids[0], 999]))
    with pytest.raises(ValueError, match="no snapshot named 'nope'"):
        select_pair_ids(store, PairSelection(snapshot="nope"))
    with pytest.raises(ValueError, match="limit"):
        PairSelection(limit=0)


def test_argilla_down_gives_a_clear_error_after_retries():
    url = f"http://127.0.0.1:{_dead_port()}"
    with pytest.raises(ArgillaUnavailableError) as info:
        connect(api_url=url, api_key="k", attempts=3, backoff=0.01)
    message = str(info.value)
    assert url in message and "3 attempts" in message and "accord argilla local start" in message
    with pytest.raises(ArgillaConfigError, match="ARGILLA_API_KEY"):
        connect(api_url=url, api_key="")


@pytest.mark.slow  # five tries with backoff, as a user gets them
def test_cli_reports_argilla_down(store, monkeypatch):
    from accord.cli.argilla import app

    monkeypatch.setenv("ARGILLA_API_URL", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("ARGILLA_API_KEY", "k")
    result = CliRunner().invoke(app, ["pull", "--dataset", "x", "--db", str(store.url)])
    assert result.exit_code == 1
    assert "did not answer" in result.output and "Traceback" not in result.output


def test_webhook_without_secret_or_signature_is_refused(store):
    with pytest.raises(WebhookVerificationError, match="no webhook secret"):
        verify_and_ingest(store, b"{}", {}, "")
    with pytest.raises(WebhookVerificationError):
        verify_and_ingest(
            store,
            b'{"type": "response.created"}',
            {"webhook-id": "m"},
            "c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==",
        )


def test_local_config_validation_and_status_when_stopped(tmp_path):
    with pytest.raises(ValueError, match="ports must differ"):
        LocalArgillaConfig(home=tmp_path, port=7000, search_port=7000)
    with pytest.raises(ValueError, match="at least 8"):
        LocalArgillaConfig(home=tmp_path, owner_password="short")
    config = LocalArgillaConfig(home=tmp_path / "h", port=_dead_port())
    assert config.venv == tmp_path / "h" / "venv"
    status = LocalArgilla(config).status()
    assert not status.ready and not any(c.alive for c in status.components)
    assert LocalArgilla(config).stop() == {
        n: "not running" for n in ("worker", "server", "search", "redis")
    }


def test_push_reads_guidelines_from_a_path_before_contacting_argilla(store, tmp_path):
    from accord.feedback.argilla import push_pairs

    with pytest.raises(ValueError, match="missing.md: cannot read guidelines"):
        push_pairs(store, dataset="d", guidelines=tmp_path / "missing.md")


def _demo_event(record: dict, text, *, kind="response.created", user="ann", status="submitted"):
    return {
        "type": kind,
        "data": {
            "id": "resp-1",
            "status": status,
            "values": {"demonstration": {"value": text}},
            "record": {**record, "dataset": {"name": "demos"}},
            "user": {"id": "user-1", "username": user},
        },
    }


def test_demonstration_answers_without_a_server(store):
    """The webhook path of --mode demonstration on synthetic events: created, unchanged,
    revised (the parent kept), empty refused and counted, withdrawn, a foreign record skipped."""
    from sqlmodel import Session, select

    from accord.feedback.argilla.demonstrations import demonstration_record_id
    from accord.feedback.argilla.webhooks import ingest_webhook_event
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.models import Response

    with session_scope(store) as s:
        prompt = upsert_prompt(s, text="Say hello.")
        record = {
            "id": "rec-1",
            "external_id": demonstration_record_id(prompt.content_hash),
            "metadata": {"accord_prompt_id": prompt.id},
        }
    outcome = ingest_webhook_event(store, _demo_event(record, "Hello!"))
    assert (outcome.action, outcome.problems) == ("created", [])
    assert ingest_webhook_event(store, _demo_event(record, "Hello!")).action == "unchanged"
    edit = _demo_event(record, "Hello there!", kind="response.updated")
    assert ingest_webhook_event(store, edit).action == "revised"
    empty = ingest_webhook_event(store, _demo_event(record, " \t\n", user="bob"))
    assert empty.action == "empty" and "empty" in empty.problems[0]
    assert "bob" in empty.problems[0] and record["external_id"] in empty.problems[0]
    gone = ingest_webhook_event(store, _demo_event(record, None, kind="response.deleted"))
    assert gone.action == "withdrawn"
    stranger = {**record, "metadata": {"accord_prompt_id": prompt.id + 1}}
    assert ingest_webhook_event(store, _demo_event(stranger, "x")).action == "skipped"
    with Session(store) as s:
        rows = s.exec(select(Response).where(Response.role == "demonstration")).all()
    assert [r.text for r in rows] == ["Hello!", "Hello there!"]
    assert rows[1].parent_id == rows[0].id and rows[1].withdrawn_at is not None
    assert rows[0].model_id == "human:ann" and rows[0].external_id == "resp-1"


def test_demonstration_push_options_are_checked_before_contacting_argilla(store, monkeypatch):
    from accord.cli.argilla import app

    monkeypatch.setenv("ARGILLA_API_URL", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("ARGILLA_API_KEY", "k")
    runner = CliRunner()
    db = str(store.url)
    push = ["push", "--dataset", "d", "--db", db]
    for args, message in (
        (["--mode", "demonstration", "--pair-source", "x"], "--mode demonstration pushes prompts"),
        (["--mode", "demonstration", "--k", "5"], "--mode demonstration pushes prompts"),
        (["--prompt-id", "1"], "--mode demonstration only"),
        (["--mode", "ranking", "--draft"], "--mode demonstration only"),
        (["--mode", "nope"], "pairs, ranking, demonstration"),
        (
            ["--mode", "demonstration", "--guidelines", "g.md", "--constitution", "x"],
            "not both",
        ),
    ):
        result = runner.invoke(app, [*push, *args])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split())
