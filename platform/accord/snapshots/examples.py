"""Reading a snapshot's examples back with their texts, in snapshot order, streamed.

``group``: the ranked item (``Ranking.group_key``: a prompt and the K responses ranked
together) an example's pair was compared in, when its labels include comparisons expanded
from a ranking written before the snapshot was built; None for a pair labelled on its own.
All (K choose 2) examples of one ranking share it, which is what training batches together
(``accord.train.rm``). Pairs of one prompt always fall on one side of the split, so a group
never straddles it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.engine import Engine

from ..store.models import Judgment, Prompt, Ranking, Response, Snapshot, SnapshotExample
from .columns import driver_statement

EXAMPLE_COLUMNS = (
    "prompt",
    "chosen",
    "rejected",
    "score",
    "tie",
    "label_source",
    "n_labels",
    "weight",
    "pair_id",
    "example_hash",
    "chosen_role",
    "rejected_role",
    "group",
)
# The tuples of iter_example_rows: the export columns, then the split.
ROW_COLUMNS = EXAMPLE_COLUMNS + ("split",)


def _messages(value: Any) -> Any:
    # The JSON column as the driver gives it: decoded on PostgreSQL, text on SQLite.
    return json.loads(value) if isinstance(value, str) else value


def ranking_groups(engine: Engine, snapshot_id: int) -> dict[int, str]:
    """pair id → the group (ranked item) of the snapshot's pairs compared within a ranking
    written before the snapshot (the smallest group key when several rankings hold a pair)."""
    j, r, e = Judgment.__table__, Ranking.__table__, SnapshotExample.__table__
    with engine.connect() as conn:
        if conn.execute(select(r.c.id).limit(1)).first() is None:
            return {}
        created = conn.execute(
            select(Snapshot.__table__.c.created_at).where(Snapshot.__table__.c.id == snapshot_id)
        ).scalar_one()
        q = (
            select(j.c.pair_id, func.min(r.c.group_key))
            .join(r, r.c.id == j.c.ranking_id)
            .where(
                j.c.pair_id.in_(select(e.c.pair_id).where(e.c.snapshot_id == snapshot_id)),
                j.c.status == "submitted",
                r.c.status == "submitted",
                r.c.created_at <= created,
            )
            .group_by(j.c.pair_id)
        )
        return dict(conn.execute(q).all())


def iter_example_chunks(
    engine: Engine,
    snapshot_id: int,
    *,
    split: str | None = None,
    conversational: bool = False,
    chunk: int = 10_000,
) -> Iterator[list[tuple]]:
    """Lists of up to ``chunk`` tuples in ``ROW_COLUMNS`` order, by position; plain driver
    values, no per-row mapping.

    Rows come through the driver's cursor (a server-side cursor on PostgreSQL), so memory
    holds one chunk whatever the snapshot's size.
    """
    e, p = SnapshotExample.__table__, Prompt.__table__
    rc, rr = Response.__table__.alias("rc"), Response.__table__.alias("rr")
    cols = [
        p.c.text,
        rc.c.text,
        rr.c.text,
        e.c.prob,
        e.c.tie,
        e.c.label_source,
        e.c.n_labels,
        e.c.weight,
        e.c.pair_id,
        e.c.example_hash,
        rc.c.role,
        rr.c.role,
        literal(None).label("group"),
        e.c.split,
    ]
    if conversational:
        cols.append(p.c.messages)
    q = (
        select(*cols)
        .join(p, p.c.id == e.c.prompt_id)
        .join(rc, rc.c.id == e.c.chosen_id)
        .join(rr, rr.c.id == e.c.rejected_id)
        .where(e.c.snapshot_id == snapshot_id)
        .order_by(e.c.position)
    )
    if split is not None:
        q = q.where(e.c.split == split)
    groups = ranking_groups(engine, snapshot_id)
    with engine.connect() as conn:
        sql, args = driver_statement(conn, q)
        raw = conn.connection
        # A named cursor is psycopg's server-side cursor; sqlite3 steps through rows lazily anyway.
        is_pg = conn.dialect.name == "postgresql"
        cursor = (
            raw.driver_connection.cursor(name=f"accord_snapshot_{snapshot_id}")
            if is_pg
            else raw.cursor()
        )
        try:
            cursor.execute(sql, args)
            while True:
                rows = cursor.fetchmany(chunk)
                if not rows:
                    break
                if groups:
                    rows = [(*r[:12], groups.get(r[8]), *r[13:]) for r in rows]
                if conversational:
                    rows = [
                        (
                            _messages(r[14]) or [{"role": "user", "content": r[0]}],
                            [{"role": "assistant", "content": r[1]}],
                            [{"role": "assistant", "content": r[2]}],
                            *r[3:14],
                        )
                        for r in rows
                    ]
                yield rows
        finally:
            cursor.close()
            if is_pg:
                raw.rollback()  # ends the read transaction the named cursor lived in


def iter_example_rows(
    engine: Engine,
    snapshot_id: int,
    *,
    split: str | None = None,
    conversational: bool = False,
    chunk: int = 10_000,
) -> Iterator[tuple]:
    """The tuples of ``iter_example_chunks`` one by one."""
    for rows in iter_example_chunks(
        engine, snapshot_id, split=split, conversational=conversational, chunk=chunk
    ):
        yield from rows


def iter_examples(
    engine: Engine,
    snapshot_id: int,
    *,
    split: str | None = None,
    conversational: bool = False,
    chunk: int = 10_000,
) -> Iterator[dict[str, Any]]:
    """Rows ``prompt, chosen, rejected, score, …`` (TRL's preference columns first).

    ``conversational``: prompt as a message list and chosen/rejected as assistant turns
    (TRL's conversational form); otherwise plain text.
    """
    for r in iter_example_rows(
        engine, snapshot_id, split=split, conversational=conversational, chunk=chunk
    ):
        row = dict(zip(ROW_COLUMNS, r))
        row["tie"] = bool(row["tie"])
        yield row
