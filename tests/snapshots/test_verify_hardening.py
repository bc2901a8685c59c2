"""Snapshot verification catches every kind of tampering the issue tried, on SQLite and
PostgreSQL: stored fields outside the old hash, an export edited together with its manifest,
an export of another snapshot, a broken manifest; snapshots built with the first hash
definition still verify."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import update

from accord.snapshots import create_snapshot, export_snapshot, verify_export, verify_snapshot
from accord.snapshots.build import HASH_VERSION, example_hash, snapshot_hash
from accord.store.db import session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord
from accord.store.models import Snapshot, SnapshotExample


@pytest.fixture
def store(engine):
    recs = [
        PreferenceRecord(
            prompt=f"p{i}",
            chosen=f"c{i}",
            rejected=f"r{i}",
            judgments=[
                JudgmentSpec(kind="human", annotator="h1"),
                JudgmentSpec(kind="ai", judge="j", prob_chosen=0.7),
            ],
        )
        for i in range(8)
    ]
    # An unlabelled pair: in no snapshot, so an example can be pointed at it.
    recs.append(PreferenceRecord(prompt="spare", chosen="x", rejected="y", judgments=[]))
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(recs)
    create_snapshot(engine, name="a", policy="soft", test_fraction=0.25, seed=0)
    create_snapshot(engine, name="b", policy="human-over-ai", test_fraction=0.25, seed=0)
    return engine


@pytest.mark.parametrize(
    "column,value",
    [("weight", 0.25), ("label_source", "human"), ("n_labels", 9), ("pair_id", None)],
)
def test_every_exported_field_is_covered_by_the_example_hash(store, column, value):
    from accord.store.models import Pair, Prompt

    with session_scope(store) as s:
        snap = s.exec(Snapshot.__table__.select().where(Snapshot.name == "a")).first()
        row = s.exec(
            SnapshotExample.__table__.select().where(
                SnapshotExample.snapshot_id == snap.id, SnapshotExample.position == 0
            )
        ).first()
        if column == "pair_id":  # the unlabelled pair, which is in no snapshot
            value = (
                s.exec(
                    Pair.__table__.select()
                    .join(Prompt, Prompt.id == Pair.prompt_id)
                    .where(Prompt.text == "spare")
                )
                .first()
                .id
            )
        s.execute(
            update(SnapshotExample).where(SnapshotExample.id == row.id).values({column: value})
        )
    report = verify_snapshot(store, "a")
    assert not report.ok and "example 0" in report.problems[0]


def test_export_edited_with_its_manifest_fixed_is_caught_against_the_store(store, tmp_path):
    out = tmp_path / "a"
    export_snapshot(store, name="a", fmt="trl", out_dir=out)
    assert verify_export(out, engine=store, name="a").ok
    train = out / "train.jsonl"
    rows = [json.loads(x) for x in train.read_text().splitlines()]
    rows[0]["weight"] = 5.0
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["train.jsonl"]["sha256"] = hashlib.sha256(train.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert verify_export(out).ok  # the folder alone cannot tell
    report = verify_export(out, engine=store, name="a")
    assert not report.ok and any(
        "train.jsonl: row 1 differs" in p and "weight" in p for p in report.problems
    )


@pytest.mark.parametrize("fmt", ["parquet", "hf"])
def test_other_formats_are_compared_with_the_store(store, tmp_path, fmt):
    out = tmp_path / fmt
    export_snapshot(store, name="a", fmt=fmt, out_dir=out)
    assert verify_export(out, engine=store, name="a").ok


def test_an_export_of_another_snapshot_does_not_pass(store, tmp_path):
    out = tmp_path / "b"
    export_snapshot(store, name="b", fmt="trl", out_dir=out)
    report = verify_export(out, engine=store, name="a")
    assert not report.ok and any("of snapshot 'b', not 'a'" in p for p in report.problems)


def test_a_broken_manifest_names_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    report = verify_export(tmp_path)
    assert not report.ok and str(tmp_path / "manifest.json") in report.problems[0]
    (tmp_path / "manifest.json").write_text("[1, 2]")
    report = verify_export(tmp_path)
    assert not report.ok and "not an export manifest" in report.problems[0]


def test_snapshots_record_their_hash_definition_and_old_ones_still_verify(store):
    with session_scope(store) as s:
        snap = s.exec(Snapshot.__table__.select().where(Snapshot.name == "a")).first()
    assert snap.manifest["hash_version"] == HASH_VERSION == 2
    # A snapshot stored with definition 1 (no hash_version in its manifest) verifies with it.
    from accord.store.keys import prompt_key
    from accord.store.models import Prompt, Response

    with session_scope(store) as s:
        rows = s.exec(
            SnapshotExample.__table__.select()
            .where(SnapshotExample.snapshot_id == snap.id)
            .order_by(SnapshotExample.position)
        ).all()
        hashes = []
        for r in rows:
            p = s.get(Prompt, r.prompt_id)
            c, j = s.get(Response, r.chosen_id), s.get(Response, r.rejected_id)
            h = example_hash(
                prompt_key(p.text, p.messages),
                c.content_hash,
                j.content_hash,
                r.prob,
                r.tie,
                r.split,
            )
            s.execute(
                update(SnapshotExample).where(SnapshotExample.id == r.id).values(example_hash=h)
            )
            hashes.append(h)
        manifest = {k: v for k, v in snap.manifest.items() if k != "hash_version"}
        digest = snapshot_hash(snap.policy, snap.params, hashes)
        manifest["content_hash"] = digest
        s.execute(
            update(Snapshot)
            .where(Snapshot.id == snap.id)
            .values(manifest=manifest, content_hash=digest)
        )
    assert verify_snapshot(store, "a").ok
    with session_scope(store) as s:  # definition 1 never covered the weight: still ok
        s.execute(
            update(SnapshotExample).where(SnapshotExample.snapshot_id == snap.id).values(weight=0.5)
        )
    assert verify_snapshot(store, "a").ok


def test_an_example_pointed_at_responses_that_are_not_its_pairs_is_caught(store):
    # prompt, chosen and rejected carry no foreign keys (the pair implies them): verify checks
    # them against the pair.
    with session_scope(store) as s:
        snap = s.exec(Snapshot.__table__.select().where(Snapshot.name == "a")).first()
        rows = s.exec(
            SnapshotExample.__table__.select()
            .where(SnapshotExample.snapshot_id == snap.id)
            .order_by(SnapshotExample.position)
        ).all()
        first, second = rows[0], rows[1]
        s.execute(
            update(SnapshotExample)
            .where(SnapshotExample.id == first.id)
            .values(chosen_id=second.chosen_id)
        )
    report = verify_snapshot(store, "a")
    assert not report.ok
    assert any(
        "example 0: its prompt or responses are not its pair's" in p for p in report.problems
    )
