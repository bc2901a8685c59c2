"""Snapshots of ranked data: a ranking of K responses becomes (K choose 2) examples sharing a
``group`` (its ranked item), and the split keeps every group on one side; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections import defaultdict

from sqlmodel import Session, select

from accord.snapshots import create_snapshot, export_snapshot, verify_export
from accord.store.crud import prompts, rankings, responses
from accord.store.db import session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord
from accord.store.models import Ranking


def _ranked_store(engine, n_items=24, k=4):
    with session_scope(engine) as s:
        for item in range(n_items):
            p = prompts.upsert_prompt(s, text=f"Ranked question {item}?")
            rs = [
                responses.upsert_response(s, prompt=p, text=f"answer {item}.{i}") for i in range(k)
            ]
            rankings.upsert_ranking(
                s, prompt=p, responses=rs, ranks=list(range(1, k + 1)), kind="human", judge="ann"
            )
        PreferenceIngestor(s).ingest(
            [
                PreferenceRecord(
                    prompt=f"Pairwise question {i}?",
                    chosen=f"good {i}",
                    rejected=f"bad {i}",
                    judgments=[JudgmentSpec(kind="human", annotator="ann")],
                )
                for i in range(6)
            ]
        )


def _rows(out):
    return {
        split: [json.loads(x) for x in (out / f"{split}.jsonl").read_text().splitlines()]
        for split in ("train", "test")
    }


def test_ranked_examples_share_their_group_and_its_split(engine, tmp_path):
    _ranked_store(engine)
    snap = create_snapshot(engine, name="ranked", policy="human-over-ai", test_fraction=0.3)
    assert snap.n_train + snap.n_test == 24 * 6 + 6
    out = tmp_path / "export"
    export_snapshot(engine, name="ranked", fmt="trl", out_dir=out)
    rows = _rows(out)
    sides = defaultdict(set)
    sizes = defaultdict(int)
    for split, split_rows in rows.items():
        for row in split_rows:
            if row["group"] is not None:
                sides[row["group"]].add(split)
                sizes[row["group"]] += 1
            else:
                assert row["prompt"].startswith("Pairwise")
    with Session(engine) as s:
        keys = {r.group_key for r in s.exec(select(Ranking)).all()}
    assert set(sizes) == keys and set(sizes.values()) == {6}  # (4 choose 2) per ranking
    assert all(len(v) == 1 for v in sides.values())  # a ranking never straddles the split
    assert {next(iter(v)) for v in sides.values()} == {"train", "test"}
    assert verify_export(out, engine=engine).ok


def test_parquet_and_hf_exports_carry_the_group(engine, tmp_path):
    import pyarrow.parquet as pq

    _ranked_store(engine, n_items=3)
    create_snapshot(engine, name="ranked", policy="human-over-ai", test_fraction=0.0)
    export_snapshot(engine, name="ranked", fmt="parquet", out_dir=tmp_path / "pq")
    table = pq.read_table(tmp_path / "pq" / "train.parquet").to_pylist()
    assert sum(r["group"] is not None for r in table) == 18
    assert verify_export(tmp_path / "pq", engine=engine).ok


def test_a_ranking_written_after_the_snapshot_does_not_regroup_it(engine, tmp_path):
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(
            [
                PreferenceRecord(
                    prompt="Q?",
                    chosen="x",
                    rejected="y",
                    judgments=[JudgmentSpec(kind="human", annotator="ann")],
                )
            ]
        )
    create_snapshot(engine, name="before", policy="human-over-ai", test_fraction=0.0)
    with session_scope(engine) as s:
        p = prompts.upsert_prompt(s, text="Q?")
        rs = [responses.upsert_response(s, prompt=p, text=t) for t in ("x", "y")]
        rankings.upsert_ranking(s, prompt=p, responses=rs, ranks=[1, 2], kind="human", judge="bo")
    export_snapshot(engine, name="before", fmt="trl", out_dir=tmp_path / "out")
    (row,) = _rows(tmp_path / "out")["train"]
    assert row["group"] is None
