"""Snapshots of human demonstrations: frozen, content-hashed, leak-free by prompt, verified,
exported in TRL's SFT formats (``messages``, prompt/completion) and read back with `datasets`
as TRL reads them; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.cli.main import app
from accord.snapshots import SnapshotError, export_snapshot, verify_export, verify_snapshot
from accord.snapshots.demonstrations import create_demonstration_snapshot, iter_demonstrations
from accord.store.crud.annotators import get_or_create_annotator
from accord.store.crud.demonstrations import upsert_demonstration
from accord.store.db import session_scope
from accord.store.models import Response, SnapshotDemonstration
from tests.fixtures.demonstrations import seed_demonstrations


def test_snapshot_freezes_demonstrations_in_force(engine):
    seed_demonstrations(engine)
    snap = create_demonstration_snapshot(engine, name="demos", test_fraction=0.3, seed=1)
    rows = list(iter_demonstrations(engine, snap.id))
    texts = {r["completion"] for r in rows}
    assert len(rows) == 8 + 4 - 1  # alice 8, bob 4, one withdrawn
    assert "Tides follow the moon." in texts and "Tides happen because" not in texts
    assert "Short answer on magnets." not in texts  # withdrawn
    assert {r["author"] for r in rows} == {"alice", "bob"}
    # leak-free: both annotators' answers to a prompt fall on one side
    sides: dict[str, set[str]] = {}
    for r in rows:
        sides.setdefault(r["prompt"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {r["split"] for r in rows} == {"train", "test"}
    m = snap.manifest
    assert (m["kind"], m["policy"], m["counts"]["examples"], m["authors"]) == (
        "demonstrations",
        "demonstrations",
        11,
        {"alice": 8, "bob": 3},
    )
    assert snap.n_train + snap.n_test == 11
    # same content, same snapshot; the name is immutable once the content changes
    again = create_demonstration_snapshot(engine, name="demos", test_fraction=0.3, seed=1)
    assert again.id == snap.id and again.content_hash == snap.content_hash
    with session_scope(engine) as s:
        carol = get_or_create_annotator(s, username="carol")
        prompt = s.get(Response, rows[0]["response_id"]).prompt_id
        from accord.store.models import Prompt

        upsert_demonstration(
            s, prompt=s.get(Prompt, prompt), annotator=carol, source="x", text="New."
        )
    with pytest.raises(SnapshotError, match="immutable"):
        create_demonstration_snapshot(engine, name="demos", test_fraction=0.3, seed=1)
    only = create_demonstration_snapshot(engine, name="demos-x", source="x", test_fraction=0)
    assert only.n_train == 1 and only.manifest["authors"] == {"carol": 1}
    assert verify_snapshot(engine, "demos").ok


def test_verify_catches_tampering(engine):
    seed_demonstrations(engine, n=4)
    snap = create_demonstration_snapshot(engine, name="d", test_fraction=0.0)
    assert verify_snapshot(engine, "d").as_dict() == {"ok": True, "checked": 5, "problems": []}
    with session_scope(engine) as s:
        example = s.exec(
            select(SnapshotDemonstration).where(SnapshotDemonstration.snapshot_id == snap.id)
        ).first()
        s.get(Response, example.response_id).text = "Edited after the snapshot."
    report = verify_snapshot(engine, "d")
    assert not report.ok and "content does not match its hash" in report.problems[0]


def test_empty_store_is_refused(engine):
    with pytest.raises(SnapshotError, match="no human demonstration"):
        create_demonstration_snapshot(engine, name="none")


def _load(out, split_files=("train", "test")):
    import datasets

    return datasets.load_dataset(
        "json", data_files={s: str(out / f"{s}.jsonl") for s in split_files}
    )


def test_exports_in_trl_sft_formats(engine, tmp_path):
    seed_demonstrations(engine)
    snap = create_demonstration_snapshot(engine, name="demos", test_fraction=0.3, seed=1)
    stored = {r["example_hash"]: r for r in iter_demonstrations(engine, snap.id)}

    out = tmp_path / "messages"
    manifest = export_snapshot(engine, name="demos", fmt="messages", out_dir=out)
    assert manifest["kind"] == "demonstrations" and manifest["format"] == "messages"
    data = _load(out)
    assert (len(data["train"]), len(data["test"])) == (snap.n_train, snap.n_test)
    row = data["train"][0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    original = stored[row["example_hash"]]
    assert row["messages"][0]["content"] == original["prompt"]
    assert row["messages"][1]["content"] == original["completion"]
    assert row["author"] == original["author"] and row["source"] == "argilla:demos"
    assert verify_export(out, engine=engine, name="demos").ok

    out = tmp_path / "trl"
    export_snapshot(engine, name="demos", fmt="trl", out_dir=out)
    row = _load(out)["train"][0]
    assert (row["prompt"], row["completion"]) == (
        stored[row["example_hash"]]["prompt"],
        stored[row["example_hash"]]["completion"],
    )
    assert not (out / "README.md").exists()
    assert verify_export(out, engine=engine, name="demos").ok

    out = tmp_path / "trl-chat"
    export_snapshot(engine, name="demos", fmt="trl", out_dir=out, conversational=True)
    row = _load(out)["test"][0]
    assert row["prompt"][0]["role"] == "user" and row["completion"][0]["role"] == "assistant"
    assert verify_export(out, engine=engine, name="demos").ok

    for fmt in ("hf", "parquet"):
        out = tmp_path / fmt
        export_snapshot(engine, name="demos", fmt=fmt, out_dir=out)
        assert verify_export(out, engine=engine, name="demos").ok
    import datasets

    assert datasets.load_from_disk(str(tmp_path / "hf"))["train"].column_names[:2] == [
        "prompt",
        "completion",
    ]

    # a file edited after export is caught, with the store's rows too
    path = tmp_path / "messages" / "train.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["messages"][1]["content"] = "tampered"
    path.write_text("\n".join([json.dumps(first, ensure_ascii=False), *lines[1:]]) + "\n")
    report = verify_export(tmp_path / "messages", engine=engine, name="demos")
    assert not report.ok and any("sha256 differs" in p for p in report.problems)
    assert any("row 1 differs" in p for p in report.problems)


def test_messages_format_is_for_demonstrations(engine, tmp_path):
    from accord.snapshots import create_snapshot
    from accord.store.ingest import PreferenceIngestor, PreferenceRecord

    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest([PreferenceRecord(prompt="Q", chosen="A", rejected="B")])
    create_snapshot(engine, name="prefs", policy="human-over-ai", test_fraction=0.0)
    with pytest.raises(SnapshotError, match="demonstrations snapshots"):
        export_snapshot(engine, name="prefs", fmt="messages", out_dir=tmp_path / "x")


def test_cli_creates_exports_and_verifies(tmp_path):
    from accord.store.db import open_store

    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = open_store(url)
    seed_demonstrations(engine)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(app, [*args, "--db", url])
        assert result.exit_code == code, result.output
        return result.output

    made = json.loads(
        run("snapshot", "create", "demos", "--kind", "demonstrations", "--json", "--seed", "1")
    )
    assert made["kind"] == "demonstrations" and made["counts"]["examples"] == 11
    assert "--policy" in run("snapshot", "create", "x", code=2)
    assert "no --policy" in run(
        "snapshot", "create", "x", "--kind", "demonstrations", "--policy", "majority", code=2
    )
    out = tmp_path / "export"
    run("export", "demos", "--format", "messages", "--out", str(out))
    assert "store: ok" in run("snapshot", "verify", "demos", "--export", str(out))
    with Session(engine) as s:
        assert len(s.exec(select(SnapshotDemonstration)).all()) == 11
