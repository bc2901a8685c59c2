"""The vectorised build keeps the definitions snapshots were made with: split side, example
hash and snapshot digest equal their one-row-at-a-time forms."""

from __future__ import annotations

import hashlib
import random

import pytest

from accord.hashing import canonical_json, sha256_hex
from accord.snapshots.build import example_hash, example_hashes, snapshot_hash
from accord.snapshots.split import assign_split


def _side_one_at_a_time(group: str, test_fraction: float, seed: int) -> str:
    h = int.from_bytes(hashlib.sha256(f"{seed}:".encode() + group.encode()).digest()[:8], "big")
    return "test" if h / 2**64 < test_fraction else "train"


@pytest.mark.parametrize("test_fraction", [0.0, 0.1, 0.5, 0.999])
@pytest.mark.parametrize("seed", [0, 7])
def test_split_equals_the_per_group_definition(test_fraction, seed):
    rng = random.Random(seed)
    groups = [f"{rng.getrandbits(64):016x}ü" for _ in range(3000)]
    rows = groups + groups[:500]  # repeated groups take one side
    got = assign_split(rows, test_fraction=test_fraction, seed=seed)
    assert got.tolist() == [_side_one_at_a_time(g, test_fraction, seed) for g in rows]
    assert len(assign_split([], test_fraction=test_fraction, seed=seed)) == 0


def test_example_hashes_equal_example_hash():
    rng = random.Random(3)
    rows = [
        (
            sha256_hex(str(i)),
            sha256_hex(f"c{i}"),
            sha256_hex(f"r{i}"),
            round(rng.random(), 6),
            rng.random() < 0.3,
            rng.choice(["train", "test"]),
        )
        for i in range(500)
    ]
    rows += [
        ("p", "c", "r", 1.0, False, "train"),
        ("p", "c", "r", 0.5, True, "test"),
        ("p", "c", "r", 0.6666666666666666, False, "train"),
        ("p", "c", "r", 1e-7, False, "test"),
    ]
    assert example_hashes(*map(list, zip(*rows))) == [example_hash(*r) for r in rows]


def test_snapshot_digest_equals_one_update_per_example():
    hashes = [sha256_hex(str(i)) for i in range(100)]
    params = {"seed": 0, "test_fraction": 0.1, "source": None}
    h = hashlib.sha256(f"soft\n{canonical_json(params)}\n".encode())
    for e in hashes:
        h.update(e.encode())
    assert snapshot_hash("soft", params, hashes) == h.hexdigest()


def test_votes_read_by_the_database_equal_votes_from_judgment_rows(engine):
    """load_votes (values and kinds computed in SQL) gives the votes judgments_to_votes makes
    from the judgment rows themselves: humans, discarded rows, aggregates, repeated principles."""
    import pandas as pd
    from sqlalchemy import select

    from accord.snapshots.votes import judgments_to_votes, load_votes
    from accord.store.db import session_scope
    from accord.store.ingest import JudgmentSpec as J
    from accord.store.ingest import PreferenceIngestor, PreferenceRecord
    from accord.store.models import Judgment

    recs = []
    for i in range(12):
        js = [
            J(
                kind="human",
                annotator=f"h{i % 3}",
                tie=i % 5 == 0,
                prob_chosen=None if i % 2 else 0.0,
            ),
            J(kind="human", annotator="late", status="discarded"),
        ]
        for pr in ("helpful", "honest")[: 1 + i % 2]:
            for order in ("ab", "ba"):
                js.append(
                    J(
                        kind="ai",
                        judge="j1",
                        principle=pr,
                        presentation_order=order,
                        constitution_hash="c1",
                        prob_chosen=(i + 1) / 14,
                    )
                )
        if i % 3 == 0:
            js.append(
                J(
                    kind="ai",
                    judge="j1",
                    presentation_order="agg",
                    constitution_hash="c1",
                    is_aggregate=True,
                    prob_chosen=0.25,
                )
            )
        js.append(J(kind="ai", judge="j2", prob_chosen=None, tie=i % 4 == 0))
        recs.append(
            PreferenceRecord(prompt=f"p{i}", chosen=f"c{i}", rejected=f"r{i}", judgments=js)
        )
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(recs)
    t = Judgment.__table__
    q = select(
        t.c.pair_id,
        t.c.kind,
        t.c.judge,
        t.c.annotator_id,
        t.c.principle,
        t.c.constitution_hash,
        t.c.preferred,
        t.c.prob_a,
        t.c.is_aggregate,
    ).where(t.c.status == "submitted")
    with engine.connect() as conn:
        rows = pd.read_sql(q, conn)
    key = ["pair_id", "kind", "judge", "constitution_hash", "principle"]
    expected = (
        judgments_to_votes(rows)
        .astype({"annotator_id": float})
        .sort_values(key)
        .reset_index(drop=True)
    )
    got = load_votes(engine).sort_values(key).reset_index(drop=True)
    assert len(got) == len(expected) > 0
    for c in expected.columns:
        assert got[c].tolist() == expected[c].tolist() or (
            c == "annotator_id" and got[c].fillna(-1).tolist() == expected[c].fillna(-1).tolist()
        ), c
    # Without human details only the human votes' name columns differ (left empty).
    lean = load_votes(engine, human_details=False)

    def rows(frame, names: bool):
        cols = ["pair_id", "kind", "annotator_id", "value"] + (
            ["judge", "principle", "constitution_hash"] if names else []
        )
        return sorted(tuple(str(v) for v in r) for r in frame[cols].itertuples(index=False))

    human = (lean.kind == "human").to_numpy()
    assert rows(lean[~human], True) == rows(got[(got.kind == "ai").to_numpy()], True)
    assert rows(lean[human], False) == rows(got[(got.kind == "human").to_numpy()], False)
    assert lean[human][["judge", "principle", "constitution_hash"]].isna().all().all()
