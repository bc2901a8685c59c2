"""Reading a snapshot's examples back with their texts, in snapshot order, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.models import Prompt, Response, SnapshotExample
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
)
# The tuples of iter_example_rows: the export columns, then the split.
ROW_COLUMNS = EXAMPLE_COLUMNS + ("split",)


def _messages(value: Any) -> Any:
    # The JSON column as the driver gives it: decoded on PostgreSQL, text on SQLite.
    return json.loads(value) if isinstance(value, str) else value


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
                if conversational:
                    rows = [
                        (
                            _messages(r[13]) or [{"role": "user", "content": r[0]}],
                            [{"role": "assistant", "content": r[1]}],
                            [{"role": "assistant", "content": r[2]}],
                            *r[3:13],
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
