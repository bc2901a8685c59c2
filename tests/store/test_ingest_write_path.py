"""How the store's write path binds and writes, on SQLite and a real PostgreSQL: rows stored
exactly as the ORM stores them (columns left out when a whole batch has them None, booleans
bound as numbers on SQLite), counts over many batches, and a failure, in a record or in the
insert itself, leaving nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from accord.store.bundles import bundle_from_preference
from accord.store.crud.judgments import upsert_judgment
from accord.store.db import session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord, StoreIngestor
from accord.store.models import Judgment, Pair, Prompt

STORED = (
    "preferred",
    "prob_a",
    "strength",
    "rationale",
    "status",
    "is_aggregate",
    "meta",
    "external_id",
    "annotator_id",
    "constitution_id",
    "job_id",
    "raw_output",
)


def _count(engine, model) -> int:
    with session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _stored(engine, where: str) -> list[tuple]:
    """Judgment columns as the database holds them (not as the ORM reads them back)."""
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(f"SELECT {', '.join(STORED)} FROM judgment WHERE {where} ORDER BY id")
            )
        ]


def test_bulk_rows_are_stored_as_the_orm_stores_them(engine):
    """Unset links and texts (None in every row of a batch: left out of the statement) and
    booleans (ints on SQLite) hold what a judgment written through the ORM holds."""
    recs = [
        PreferenceRecord(
            prompt=f"q{i}",
            chosen="a",
            rejected="b",
            source="s",
            judgments=[JudgmentSpec(kind="ai", judge="bulk", prob_chosen=0.75, is_aggregate=flag)],
        )
        for i, flag in enumerate((False, True))
    ]
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(recs)
    with session_scope(engine) as s:
        for pair in s.exec(select(Pair).order_by(Pair.id)).all():
            bulk = s.exec(select(Judgment).where(Judgment.pair_id == pair.id)).one()
            upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge="orm",
                preferred=bulk.preferred,
                prob_a=bulk.prob_a,
                is_aggregate=bulk.is_aggregate,
            )
    bulk, orm = _stored(engine, "judge = 'bulk'"), _stored(engine, "judge = 'orm'")
    assert bulk == orm and len(bulk) == 2
    assert [row[5] for row in bulk] in ([0, 1], [False, True])
    assert bulk[0][STORED.index("annotator_id")] is None
    assert bulk[0][STORED.index("meta")] in ("{}", {})


def test_a_column_none_in_some_rows_only_keeps_both(engine):
    recs = [
        PreferenceRecord(
            prompt=f"q{i}",
            chosen="a",
            rejected="b",
            source="s",
            judgments=[
                JudgmentSpec(
                    kind="human",
                    judge="ann",
                    prob_chosen=None if i % 2 else 0.9,
                    rationale=None if i % 2 else f"why {i}",
                )
            ],
        )
        for i in range(4)
    ]
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(recs)
    rows = _stored(engine, "1 = 1")
    assert [row[STORED.index("rationale")] for row in rows] == ["why 0", None, "why 2", None]
    assert [row[STORED.index("prob_a")] is None for row in rows] == [False, True, False, True]


def _records(n: int, judges: int = 3):
    for i in range(n):
        yield PreferenceRecord(
            prompt=f"question {i}",
            chosen=f"yes {i}",
            rejected=f"no {i}",
            source="bg",
            judgments=[
                JudgmentSpec(kind="ai", judge=f"judge-{j}", prob_chosen=0.6) for j in range(judges)
            ],
        )


def test_judgments_of_every_batch_are_counted_and_written(engine):
    with session_scope(engine) as s:
        counts = PreferenceIngestor(s, batch_size=7).ingest(_records(50))
        # Readable in the same transaction.
        assert s.exec(select(func.count()).select_from(Judgment)).one() == 150
    assert (counts.judgments, counts.pairs, counts.records) == (150, 50, 50)
    with session_scope(engine) as s:
        again = PreferenceIngestor(s, batch_size=7).ingest(_records(50))
    assert (again.judgments, again.unchanged) == (0, 150)
    assert _count(engine, Judgment) == 150


def test_flush_writes_one_batch(engine):
    with session_scope(engine) as s:
        ingestor = StoreIngestor(s)
        counts = ingestor.flush([bundle_from_preference(r) for r in _records(4)])
        assert counts.judgments == 12
        assert s.exec(select(func.count()).select_from(Judgment)).one() == 12


def test_a_failing_record_after_written_batches_leaves_nothing(engine):
    def records():
        yield from _records(20)
        raise ValueError("line 21: broken")

    with pytest.raises(ValueError, match="line 21"), session_scope(engine) as s:
        PreferenceIngestor(s, batch_size=5).ingest(records())
    assert _count(engine, Judgment) == 0 and _count(engine, Prompt) == 0


def test_a_failing_judgment_insert_is_raised_and_leaves_nothing(engine):
    bundles = [bundle_from_preference(r) for r in _records(12)]
    bundles[6].judgments[0]["status"] = None  # NOT NULL: the insert itself fails
    with pytest.raises(Exception, match="(?i)not.null"), session_scope(engine) as s:
        StoreIngestor(s, batch_size=5).ingest(bundles)
    assert _count(engine, Judgment) == 0 and _count(engine, Pair) == 0
