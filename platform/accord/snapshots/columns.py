"""Query results straight from the driver's cursor, as columns.

Snapshot builds read millions of rows of ids, numbers and short strings. Going through the
driver's cursor skips SQLAlchemy's per-row processing and pandas' string conversion; the
columns come back as tuples of plain Python values, ready for numpy.

>>> from sqlalchemy import select
>>> from accord.store.db import open_store
>>> from accord.store.models import Prompt
>>> engine = open_store("sqlite://")
>>> with engine.connect() as conn:
...     cols = fetch_columns(conn, select(Prompt.__table__.c.id, Prompt.__table__.c.text))
>>> list(cols), len(cols["id"]) == len(cols["text"])
(['id', 'text'], True)
"""

from __future__ import annotations

import gc
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select


def driver_statement(conn: Connection, query: Select) -> tuple[str, Any]:
    """``query`` as the driver's SQL text and parameters (plain binds only: no expanding IN)."""
    compiled = query.compile(dialect=conn.dialect)
    if conn.dialect.paramstyle in ("pyformat", "format"):
        return str(compiled), compiled.params
    # qmark / numeric (sqlite): positional, in the compiled order.
    return str(compiled), tuple(compiled.params[k] for k in compiled.positiontup or ())


def fetch_columns(conn: Connection, query: Select) -> dict[str, tuple]:
    """Every row of ``query``, transposed: ``{column label: tuple of values}``."""
    sql, params = driver_statement(conn, query)
    cursor = conn.connection.cursor()
    # Millions of fresh tuples would trigger the cyclic collector over and over; none of
    # them can be part of a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        cursor.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        columns = list(zip(*rows)) if rows else [() for _ in names]
        del rows
    finally:
        cursor.close()
        if collecting:
            gc.enable()
    return dict(zip(names, columns))
