"""Fast idempotent inserts: many rows in one statement, existing natural keys skipped.

Used by imports, jobs and pulls alike, on SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlmodel import Session

def _chunks(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _memo(process):
    """A bind processor that reuses its last answer for the same object or an empty value
    (rows of one batch share timestamps and empty JSON defaults)."""
    last_in: list[Any] = [object(), None]
    empty: dict[type, Any] = {}

    def run(value):
        if value is None:
            return None
        if value is last_in[0]:
            return last_in[1]
        if isinstance(value, (dict, list)) and not value:
            t = type(value)
            if t not in empty:
                empty[t] = process(value)
            return empty[t]
        out = process(value)
        last_in[0], last_in[1] = value, out
        return out

    return run


def insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]], *,
                  key: str = "content_hash") -> int:
    """Insert ``rows`` (all with the same keys), skipping those whose ``key`` (a unique
    column) already exists. Returns the number of rows actually inserted.

    The hot path of every import: values go through each column type's own bind processor
    (so they are stored exactly as the ORM would store them), then straight to the driver's
    ``executemany`` inside the session's transaction. SQLAlchemy's per-row statement
    machinery cost several times more than SQLite's insert itself.
    """
    if not rows:
        return 0
    conn = session.connection()
    dialect = conn.dialect
    cols = list(rows[0])
    # Column defaults the ORM would apply (timestamps, empty JSON), evaluated once per call.
    defaults: dict[str, Any] = {}
    for col in table.c:
        if col.name not in rows[0] and col.default is not None and not col.primary_key:
            arg = col.default.arg
            defaults[col.name] = arg(None) if col.default.is_callable else arg
    if defaults:
        rows = [{**r, **defaults} for r in rows]
        cols += list(defaults)
    procs = [table.c[c].type._cached_bind_processor(dialect) for c in cols]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    plain = [c for c, p in zip(cols, procs) if p is None]
    processed = [(c, _memo(p)) for c, p in zip(cols, procs) if p is not None]
    order = plain + [c for c, _ in processed]
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in order)}) "
           f"VALUES ({', '.join([mark] * len(order))}) ON CONFLICT ({quote(key)}) DO NOTHING")
    inserted = 0
    cursor = conn.connection.cursor()
    try:
        for chunk in _chunks(rows, 10_000):
            params = [tuple([r[c] for c in plain] + [p(r[c]) for c, p in processed]) for r in chunk]
            cursor.executemany(sql, params)
            inserted += max(cursor.rowcount, 0)
    finally:
        cursor.close()
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
