"""Fast idempotent inserts: many rows in one statement, existing natural keys skipped, the
ids of the new rows returned by the same statement.

Used by imports, jobs and pulls alike, on SQLite and PostgreSQL (``INSERT … VALUES (…), (…)
ON CONFLICT (key) DO NOTHING RETURNING id, key``).

>>> import tempfile
>>> from accord.store.db import open_store, session_scope
>>> from accord.store.models import Prompt
>>> engine = open_store(f"sqlite:///{tempfile.mkdtemp()}/store.db")
>>> row = {"text": "Hi", "source": "", "content_hash": "h" * 64, "split_group": "g" * 64,
...        "meta": {}}
>>> with session_scope(engine) as s:
...     first = insert_ignore(s, Prompt.__table__, [row])
...     again = insert_ignore(s, Prompt.__table__, [row])
...     first, again, list(ids_by_key(s, Prompt.__table__, ["h" * 64]).values())
(1, 0, [1])
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Table, TypeDecorator
from sqlmodel import Session

# Bound parameters per statement: under SQLite's compiled-in limit (32,766 on every build
# since 3.32) and PostgreSQL's 65,535; statements of that size cost no more per row than
# ``executemany`` and return the new ids at no extra cost.
MAX_PARAMS = 30_000
MAX_ROWS = 2_000
# RETURNING needs SQLite 3.35 (2021); older libraries fall back to a SELECT of the new keys.
_SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35)


def _column_converter(type_, dialect) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """A function converting a whole column of Python values with the column type's own bind
    processor (values are stored exactly as the ORM stores them), or None when the type has
    none. Whole columns, because per-value Python calls cost more than SQLite's insert: JSON
    ``{}`` (most of them) is converted once; timestamps are converted once per distinct value
    (a batch shares one); floats already are what the driver takes. None stays SQL NULL (a
    JSON None too), as the ORM stores an unset nullable column."""
    proc = type_._cached_bind_processor(dialect)
    if proc is None:
        return None
    base = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    if isinstance(base, JSON):
        empty = proc({})

        def json_column(values):
            return [
                empty if v.__class__ is dict and not v else None if v is None else proc(v)
                for v in values
            ]

        return json_column
    if isinstance(base, DateTime):

        def timestamp_column(values):
            converted = {v: None if v is None else proc(v) for v in set(values)}
            return list(map(converted.__getitem__, values))

        return timestamp_column
    if isinstance(base, Boolean) and dialect.name == "sqlite":
        # SQLite stores booleans as 0/1, which its bind processor makes of them too; the
        # sqlite3 driver binds an int several times faster than a bool (which it first
        # tries to adapt), so bools always become ints here.
        def int_column(values):
            if set(map(type, values)) <= {bool}:
                return list(map(int, values))
            return [proc(v) for v in values]

        return int_column
    native = {Float: {float, type(None)}, Boolean: {bool, type(None)}}.get(type(base), set())

    def column(values):
        if native and set(map(type, values)) <= native:
            return values
        return [None if v is None else proc(v) for v in values]

    return column


class BulkWriter:
    """Multi-row inserts and key look-ups through the session's own connection (one
    transaction), with statements and bind processors prepared once per table and columns."""

    def __init__(self, session: Session):
        self.session = session
        self.dialect = session.get_bind().dialect
        self.sqlite = self.dialect.name == "sqlite"
        # PostgreSQL through psycopg 3 takes many rows best as a pipelined ``executemany``;
        # SQLite (and any other driver) as multi-row ``VALUES`` statements.
        self.pipelined = self.dialect.name == "postgresql" and self.dialect.driver == "psycopg"
        self._mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        self._quote = self.dialect.identifier_preparer.quote
        self._procs: dict[tuple, list] = {}
        self._sql: dict[tuple, str] = {}

    def _cursor(self):
        return self.session.connection().connection.cursor()

    def converters(self, table: Table, columns: Sequence[str]) -> list:
        key = (table.name, tuple(columns))
        if key not in self._procs:
            self._procs[key] = [_column_converter(table.c[c].type, self.dialect) for c in columns]
        return self._procs[key]

    def _insert_sql(
        self, table: Table, columns: tuple[str, ...], n_rows: int, key: str | None, returning: bool
    ) -> str:
        cache_key = (table.name, columns, n_rows, key, returning)
        sql = self._sql.get(cache_key)
        if sql is None:
            q = self._quote
            one = f"({', '.join([self._mark] * len(columns))})"
            sql = (
                f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in columns)}) "
                f"VALUES {', '.join([one] * n_rows)}"
            )
            if key:
                sql += f" ON CONFLICT ({q(key)}) DO NOTHING"
            if returning:
                sql += f" RETURNING {q(key)}, {q('id')}"
            self._sql[cache_key] = sql
        return sql

    def bind_columns(
        self, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
    ) -> tuple[tuple[str, ...], list[Sequence[Any]]]:
        """Columns of values (``values[i]`` holds ``columns[i]`` of every row) as the driver
        takes them: each converted by its type's bind processor, and those that are None in
        every row left out (the database stores NULL either way, as no column has a server
        default; the sqlite3 driver binds None several times slower than a number, and a
        batch often has a few such columns: links and texts a whole import leaves unset)."""
        columns = tuple(columns)
        values = list(values)
        keep = []
        for i, convert in enumerate(self.converters(table, columns)):
            if convert is not None:
                values[i] = convert(values[i])
            column = values[i]
            if column[0] is not None or column.count(None) < len(column):
                keep.append(i)
        if len(keep) < len(columns):
            columns = tuple(columns[i] for i in keep)
            values = [values[i] for i in keep]
        return columns, values

    def insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        key: str | None = "content_hash",
        returning: bool = False,
    ) -> tuple[int, dict[str, int]]:
        """Insert ``rows`` (tuples of Python values in ``columns`` order), skipping those whose
        ``key`` (a unique column) exists. Returns how many were new and, with ``returning``,
        their ids by key (``{}`` otherwise)."""
        if not rows:
            return 0, {}
        return self.insert_columns(table, columns, list(zip(*rows)), key=key, returning=returning)

    def insert_columns(
        self,
        table: Table,
        columns: Sequence[str],
        values: Sequence[Sequence[Any]],
        *,
        key: str | None = "content_hash",
        returning: bool = False,
    ) -> tuple[int, dict[str, int]]:
        """``insert`` of rows given as columns (``values[i]``: ``columns[i]`` of every row,
        all of one length): what a caller that builds rows column by column saves is a
        transposition."""
        if not values or not len(values[0]):
            return 0, {}
        columns, values = self.bind_columns(table, columns, values)
        if self.pipelined:
            return self._insert_pipelined(table, columns, list(zip(*values)), key, returning)
        use_returning = returning and (not self.sqlite or _SQLITE_RETURNING)
        before: dict[str, int] = {}
        if returning and not use_returning:
            keys = values[columns.index(key)]
            before = self.ids(table, keys, key=key)
        inserted, ids = 0, {}
        cursor = self._cursor()
        try:
            for sql, params in self._statements(table, columns, values, key, use_returning):
                cursor.execute(sql, params)
                if use_returning:
                    got = cursor.fetchall()
                    ids.update(got)
                    inserted += len(got)
                else:
                    inserted += max(cursor.rowcount, 0)
        finally:
            cursor.close()
        if returning and not use_returning and inserted:
            ids = self.ids(table, [k for k in keys if k not in before], key=key)
        return inserted, ids

    def _statements(
        self,
        table: Table,
        columns: tuple[str, ...],
        values: list[Sequence[Any]],
        key: str | None,
        returning: bool,
    ) -> Iterator[tuple[str, list]]:
        """Multi-row statements and their row-major parameters, straight from the columns."""
        n_rows = len(values[0])
        per_statement = max(1, min(MAX_ROWS, MAX_PARAMS // len(columns)))
        for start in range(0, n_rows, per_statement):
            end = min(start + per_statement, n_rows)
            yield (
                self._insert_sql(table, columns, end - start, key, returning),
                list(chain.from_iterable(zip(*[c[start:end] for c in values]))),
            )

    def _insert_pipelined(
        self, table: Table, columns: tuple[str, ...], rows: list, key: str | None, returning: bool
    ) -> tuple[int, dict[str, int]]:
        """psycopg 3: one prepared single-row statement, ``executemany`` in pipeline mode (the
        server parses it once; a statement with tens of thousands of parameters costs more
        on both sides than the rows themselves)."""
        sql = self._insert_sql(table, columns, 1, key, returning)
        ids: dict[str, int] = {}
        cursor = self._cursor()
        try:
            cursor.executemany(sql, rows, returning=returning)
            if not returning:
                return max(cursor.rowcount, 0), ids
            while True:
                ids.update(cursor.fetchall())
                if not cursor.nextset():
                    break
        finally:
            cursor.close()
        return len(ids), ids

    def ids(
        self, table: Table, keys: Iterable[str], *, key: str = "content_hash", id_col: str = "id"
    ) -> dict[str, int]:
        """Map natural keys to row ids (chunked ``IN`` queries)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, int] = {}
        if not keys:
            return out
        q = self._quote
        cursor = self._cursor()
        try:
            for start in range(0, len(keys), 5_000):
                chunk = keys[start : start + 5_000]
                cursor.execute(
                    f"SELECT {q(key)}, {q(id_col)} FROM {q(table.name)} WHERE {q(key)} "
                    f"IN ({', '.join([self._mark] * len(chunk))})",
                    chunk,
                )
                out.update(cursor.fetchall())
        finally:
            cursor.close()
        return out

    def select_in(
        self, table: Table, columns: Sequence[str], column: str, values: Sequence[Any]
    ) -> list[tuple]:
        """Rows (``columns``, as the driver returns them) whose ``column`` is in ``values``."""
        q = self._quote
        out: list[tuple] = []
        cursor = self._cursor()
        try:
            for start in range(0, len(values), 5_000):
                chunk = list(values[start : start + 5_000])
                cursor.execute(
                    f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table.name)} "
                    f"WHERE {q(column)} IN ({', '.join([self._mark] * len(chunk))})",
                    chunk,
                )
                out.extend(cursor.fetchall())
        finally:
            cursor.close()
        return out

    def execute_many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """``executemany`` of ``sql`` whose parameters are written ``{mark}``."""
        cursor = self._cursor()
        try:
            cursor.executemany(sql.format(mark=self._mark), params)
        finally:
            cursor.close()

    def update_by_id(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> int:
        """``UPDATE table SET columns… WHERE id = ?`` for rows of (values…, id)."""
        if not rows:
            return 0
        convert = self.converters(table, columns)
        q = self._quote
        sql = (
            f"UPDATE {q(table.name)} SET {', '.join(f'{q(c)} = {self._mark}' for c in columns)} "
            f"WHERE {q('id')} = {self._mark}"
        )
        cols = list(zip(*rows))
        for i, c in enumerate(convert):
            if c is not None:
                cols[i] = c(cols[i])
        params = list(zip(*cols))
        cursor = self._cursor()
        try:
            cursor.executemany(sql, params)
        finally:
            cursor.close()
        return len(rows)


def insert_ignore(
    session: Session, table: Table, rows: list[dict[str, Any]], *, key: str = "content_hash"
) -> int:
    """Insert ``rows`` (dicts, all with the same keys), skipping those whose ``key`` (a unique
    column) already exists; columns left out get their defaults (timestamps, empty JSON).
    Returns the number of rows actually inserted."""
    if not rows:
        return 0
    columns = list(rows[0])
    defaults: dict[str, Any] = {}
    for col in table.c:
        if col.name not in rows[0] and col.default is not None and not col.primary_key:
            arg = col.default.arg
            defaults[col.name] = arg(None) if col.default.is_callable else arg
    extra = tuple(defaults.values())
    values = [tuple([r[c] for c in columns]) + extra for r in rows]
    inserted, _ = BulkWriter(session).insert(table, columns + list(defaults), values, key=key)
    return inserted


def ids_by_key(
    session: Session,
    table: Table,
    keys: Iterable[str],
    *,
    key: str = "content_hash",
    id_col: str = "id",
) -> dict[str, int]:
    """Map natural keys to row ids (chunked IN queries)."""
    return BulkWriter(session).ids(table, keys, key=key, id_col=id_col)
