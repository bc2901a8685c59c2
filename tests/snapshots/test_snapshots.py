"""Snapshots on SQLite and PostgreSQL: policies, immutability, leak-free splits, export, verify,
diff."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text, update

from accord.snapshots import (
    PolicyParams,
    SnapshotError,
    create_snapshot,
    diff_snapshots,
    export_snapshot,
    verify_export,
    verify_snapshot,
)
from accord.store.db import session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord
from accord.store.models import Response, SnapshotExample


def H(annotator, chosen_wins=True, tie=False):
    return JudgmentSpec(
        kind="human", annotator=annotator, tie=tie, prob_chosen=None if chosen_wins else 0.0
    )


def A(judge, p):
    return JudgmentSpec(kind="ai", judge=judge, prob_chosen=p)


def ingest(engine, records):
    with session_scope(engine) as s:
        return PreferenceIngestor(s).ingest(records)


@pytest.fixture
def mixed_store(engine):
    """Eight pairs with every label situation a policy must handle."""
    recs = [
        # 0: human only, says chosen
        PreferenceRecord(prompt="p0", chosen="c0", rejected="r0", judgments=[H("h1")]),
        # 1: AI only, soft 0.8 for chosen
        PreferenceRecord(prompt="p1", chosen="c1", rejected="r1", judgments=[A("j", 0.8)]),
        # 2: human says chosen, AI disagrees strongly
        PreferenceRecord(prompt="p2", chosen="c2", rejected="r2", judgments=[H("h1"), A("j", 0.1)]),
        # 3: humans split 2-1, AI agrees with majority
        PreferenceRecord(
            prompt="p3",
            chosen="c3",
            rejected="r3",
            judgments=[H("h1"), H("h2"), H("h3", chosen_wins=False), A("j", 0.9)],
        ),
        # 4: a human tie
        PreferenceRecord(prompt="p4", chosen="c4", rejected="r4", judgments=[H("h1", tie=True)]),
        # 5: no labels at all? (an AI vote at exactly 0.5 → tie under every policy)
        PreferenceRecord(prompt="p5", chosen="c5", rejected="r5", judgments=[A("j", 0.5)]),
        # 6 and 7: same normalized prompt → must land on the same split side
        PreferenceRecord(prompt="Same  Prompt", chosen="c6", rejected="r6", judgments=[H("h2")]),
        PreferenceRecord(prompt="same prompt", chosen="c7", rejected="r7", judgments=[H("h2")]),
    ]
    ingest(engine, recs)
    return engine


def _labels(engine, snap):
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select p.text, c.text, e.prob, e.label_source, e.split from snapshotexample e "
                "join prompt p on p.id = e.prompt_id join response c on c.id = e.chosen_id "
                "where e.snapshot_id = :s order by p.text, c.text"
            ),
            {"s": snap.id},
        ).all()
    return {r[0]: (r[1], round(r[2], 3), r[3], r[4]) for r in rows}


def test_human_over_ai(mixed_store):
    snap = create_snapshot(mixed_store, name="hoa", policy="human-over-ai", test_fraction=0.0)
    lab = _labels(mixed_store, snap)
    assert lab["p2"][:3] == ("c2", 1.0, "human")  # the human wins over the AI
    assert lab["p1"][:3] == ("c1", 1.0, "ai")  # AI where no human label
    assert lab["p3"][:3] == ("c3", 0.667, "human")
    assert "p4" not in lab and "p5" not in lab  # ties dropped by default
    assert snap.manifest["counts"]["dropped_ties"] == 2
    assert snap.manifest["source_mix"] == {"human": 5, "ai": 1}


def test_other_policies(mixed_store):
    maj = _labels(
        mixed_store, create_snapshot(mixed_store, name="maj", policy="majority", test_fraction=0)
    )
    assert "p2" not in maj  # one human vs one AI: a tie, dropped
    assert maj["p3"][:3] == ("c3", 0.75, "mixed")
    ho = _labels(
        mixed_store, create_snapshot(mixed_store, name="ho", policy="human-only", test_fraction=0)
    )
    assert "p1" not in ho and ho["p2"][0] == "c2"
    ai = _labels(
        mixed_store, create_snapshot(mixed_store, name="ai", policy="ai-only", test_fraction=0)
    )
    assert set(ai) == {"p1", "p2", "p3"} and ai["p2"][0] == "r2"
    ma = _labels(
        mixed_store,
        create_snapshot(
            mixed_store,
            name="ma",
            policy="min-agreement",
            test_fraction=0,
            params=PolicyParams(min_agreement=0.8),
        ),
    )
    assert "p3" not in ma and "p0" in ma  # 3 of 4 votes agree: below 0.8
    soft = _labels(
        mixed_store, create_snapshot(mixed_store, name="soft", policy="soft", test_fraction=0)
    )
    assert soft["p1"][1] == 0.8 and soft["p2"][:2] == ("c2", 0.55)
    ties = _labels(
        mixed_store,
        create_snapshot(
            mixed_store,
            name="ties",
            policy="human-over-ai",
            test_fraction=0,
            params=PolicyParams(keep_ties=True),
        ),
    )
    assert ties["p4"][1] == 0.5


def test_unknown_policy_and_bad_params(mixed_store):
    with pytest.raises(ValueError, match="unknown policy"):
        create_snapshot(mixed_store, name="x", policy="best-guess")
    with pytest.raises(ValueError, match="min_agreement"):
        PolicyParams(min_agreement=0)


def test_content_hash_is_deterministic_and_snapshots_immutable(mixed_store):
    a = create_snapshot(mixed_store, name="a", policy="human-over-ai", seed=3)
    b = create_snapshot(mixed_store, name="b", policy="human-over-ai", seed=3)
    assert a.content_hash == b.content_hash
    assert create_snapshot(mixed_store, name="a", policy="human-over-ai", seed=3).id == a.id
    ingest(mixed_store, [PreferenceRecord(prompt="new", chosen="x", rejected="y")])
    with pytest.raises(SnapshotError, match="immutable"):
        create_snapshot(mixed_store, name="a", policy="human-over-ai", seed=3)
    c = create_snapshot(mixed_store, name="c", policy="human-over-ai", seed=3)
    assert c.content_hash != a.content_hash
    d = diff_snapshots(mixed_store, "a", "c")
    assert (d["added"], d["removed"], d["flipped"]) == (1, 0, 0)
    e = diff_snapshots(mixed_store, "a", "a")
    assert e["identical"] and e["added"] == e["removed"] == 0


def test_diff_reports_flips(mixed_store):
    create_snapshot(mixed_store, name="h", policy="human-only", test_fraction=0)
    create_snapshot(mixed_store, name="a", policy="ai-only", test_fraction=0)
    d = diff_snapshots(mixed_store, "h", "a")
    assert (d["flipped"], d["removed"], d["added"]) == (
        1,
        3,
        1,
    )  # p2 flips; p0, p6, p7 leave; p1 comes


def test_split_is_leak_free(engine):
    recs = [
        PreferenceRecord(prompt=f"Prompt {i % 50}", chosen=f"good {i}", rejected=f"bad {i}")
        for i in range(400)
    ]
    recs += [
        PreferenceRecord(prompt=f"  prompt {i % 50} ", chosen=f"g {i}", rejected=f"b {i}")
        for i in range(100)
    ]
    ingest(engine, recs)
    snap = create_snapshot(engine, name="s", policy="human-over-ai", test_fraction=0.3, seed=1)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select p.split_group, e.split from snapshotexample e join prompt p on p.id = "
                "e.prompt_id "
                "where e.snapshot_id = :s"
            ),
            {"s": snap.id},
        ).all()
    sides: dict[str, set] = {}
    for group, split in rows:
        sides.setdefault(group, set()).add(split)
    assert len(sides) == 50 and all(len(v) == 1 for v in sides.values())
    assert 0.1 < snap.n_test / (snap.n_train + snap.n_test) < 0.5


def test_export_and_verify_detect_tampering(mixed_store, tmp_path):
    create_snapshot(mixed_store, name="v", policy="soft", test_fraction=0.5, seed=0)
    assert verify_snapshot(mixed_store, "v").ok
    out = tmp_path / "export"
    manifest = export_snapshot(mixed_store, name="v", fmt="trl", out_dir=out)
    train = [json.loads(x) for x in (out / "train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (out / "test.jsonl").read_text().splitlines()]
    assert len(train) + len(test) == manifest["counts"]["examples"]
    assert set(train[0]) >= {"prompt", "chosen", "rejected", "score", "example_hash"}
    assert verify_export(out, engine=mixed_store).ok
    # Edit an exported file: caught.
    (out / "train.jsonl").write_text((out / "train.jsonl").read_text().replace("c", "C", 1))
    assert not verify_export(out).ok
    # Edit a stored response's text: caught.
    with session_scope(mixed_store) as s:
        s.execute(update(Response).where(Response.text == "c1").values(text="c1 (edited)"))
    report = verify_snapshot(mixed_store, "v")
    assert not report.ok and "does not match" in report.problems[0]


def test_verify_detects_deleted_rows(mixed_store):
    snap = create_snapshot(mixed_store, name="d", policy="human-over-ai", test_fraction=0)
    with session_scope(mixed_store) as s:
        s.execute(
            SnapshotExample.__table__.delete().where(
                SnapshotExample.snapshot_id == snap.id, SnapshotExample.position == 0
            )
        )
    assert not verify_snapshot(mixed_store, "d").ok


@pytest.mark.parametrize("fmt", ["hf", "parquet"])
def test_hf_and_parquet_exports_load_with_datasets(mixed_store, tmp_path, fmt):
    import datasets

    create_snapshot(mixed_store, name="x", policy="human-over-ai", test_fraction=0.3)
    out = tmp_path / fmt
    export_snapshot(mixed_store, name="x", fmt=fmt, out_dir=out)
    if fmt == "hf":
        dd = datasets.load_from_disk(str(out))
        sizes = {s: dd[s].num_rows for s in ("train", "test")}
        columns = dd["train"].column_names
    else:
        import pyarrow.parquet as pq

        tables = {s: pq.read_table(out / f"{s}.parquet") for s in ("train", "test")}
        sizes = {s: t.num_rows for s, t in tables.items()}
        columns = tables["test"].column_names  # the schema is written even for an empty split
        train = datasets.load_dataset(
            "parquet", data_files=str(out / "train.parquet"), split="train"
        )
        assert train.num_rows == sizes["train"]
    assert sizes["train"] + sizes["test"] == 6
    assert {"prompt", "chosen", "rejected", "score"} <= set(columns)
    assert verify_export(out).ok


def test_audit_aware_policies_exclude_unreliable_annotators_and_weak_principles(engine):
    """An annotator who always contradicts two agreeing colleagues is excluded; an AI principle
    that disagrees with the human majority is dropped; the figures go into the manifest."""
    recs = []
    for i in range(12):
        recs.append(
            PreferenceRecord(
                prompt=f"q{i}",
                chosen=f"good{i}",
                rejected=f"bad{i}",
                judgments=[
                    H("good1"),
                    H("good2"),
                    H("contrarian", chosen_wins=False),
                    JudgmentSpec(
                        kind="ai",
                        judge="j",
                        principle="agrees",
                        prob_chosen=0.9,
                        constitution_hash="c",
                    ),
                    JudgmentSpec(
                        kind="ai",
                        judge="j2",
                        principle="contradicts",
                        prob_chosen=0.1,
                        constitution_hash="c",
                    ),
                ],
            )
        )
    ingest(engine, recs)
    snap = create_snapshot(
        engine,
        name="aware",
        policy="majority",
        test_fraction=0,
        params=PolicyParams(min_annotator_reliability=0.5, min_principle_agreement=0.5),
    )
    audit = snap.manifest["audit"]
    assert len(audit["excluded_annotators"]) == 1
    assert audit["low_agreement_ai_votes"] == 12
    assert "summary" in audit
    assert snap.manifest["counts"]["examples"] == 12
    # Without the contrarian and the contradicting principle every vote agrees.
    with engine.connect() as conn:
        probs = {
            r[0]
            for r in conn.execute(
                text("select prob from snapshotexample where snapshot_id = :s"), {"s": snap.id}
            )
        }
    assert probs == {1.0}


def test_empty_snapshot_is_refused_before_writing(engine):
    ingest(engine, [PreferenceRecord(prompt="q", chosen="x", rejected="y")])
    with pytest.raises(SnapshotError, match="no examples"):
        create_snapshot(engine, name="empty", policy="ai-only")
    from accord.snapshots import list_snapshots

    assert list_snapshots(engine) == []
    assert create_snapshot(engine, name="empty", policy="ai-only", allow_empty=True).n_train == 0


def test_pair_ids_narrow_the_snapshot(mixed_store):
    from accord.snapshots.build import load_pairs

    ids = sorted(load_pairs(mixed_store).pair_id)[:2]
    snap = create_snapshot(
        mixed_store, name="two", policy="human-over-ai", test_fraction=0, pair_ids=ids
    )
    assert snap.n_train == 2 and "pair_ids_sha256" in snap.params
