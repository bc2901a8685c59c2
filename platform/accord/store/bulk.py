"""Fast idempotent inserts: many rows in one statement, existing natural keys skipped.

Used by imports, jobs and pulls alike, on SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

# SQLite allows 32,766 bound parameters per statement; stay well inside it.
_MAX_PARAMS = 30_000


def _chunks(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]], *,
                  key: str = "content_hash") -> int:
    """Insert ``rows``, skipping those whose ``key`` (a unique column) already exists.

    Returns the number of rows actually inserted.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    width = max(len(rows[0]), 1)
    inserted = 0
    for chunk in _chunks(rows, max(1, _MAX_PARAMS // width)):
        stmt = (ins(table).values(list(chunk)).on_conflict_do_nothing(index_elements=[key])
                .returning(table.c[key]))
        # rowcount is unreliable for multi-row inserts on some drivers: count what came back.
        inserted += len(session.execute(stmt).all())
    return inserted


def ids_by_key(session: Session, table: Table, keys: Iterable[str], *, key: str = "content_hash",
               id_col: str = "id") -> dict[str, int]:
    """Map natural keys to row ids (chunked IN queries)."""
    keys = list(dict.fromkeys(keys))
    out: dict[str, int] = {}
    col_key, col_id = table.c[key], table.c[id_col]
    for chunk in _chunks(keys, 5_000):
        for k, i in session.execute(select(col_key, col_id).where(col_key.in_(chunk))):
            out[k] = i
    return out
