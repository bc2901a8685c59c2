"""Engine, sessions and migrations of the preference store.

SQLite is the embedded default (WAL journal, foreign keys on, a busy timeout so a worker and
the CLI can share the file, a page cache large enough for bulk writes); PostgreSQL through
``postgresql+psycopg://`` in production.
Pending Alembic migrations are applied the first time a process opens a store.

>>> from accord.store.db import open_store
>>> engine = open_store("sqlite://")
>>> from sqlmodel import Session
>>> with Session(engine) as s:
...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from . import models  # noqa: F401  (registers every table on SQLModel.metadata)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_CACHE_KIB = -65_536  # negative: KiB rather than pages
_MIGRATION_LOCK_KEY = 0x61636_36F7264  # PostgreSQL advisory lock id held while migrating
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """A new engine for ``url`` with the connection settings accord relies on."""
    if is_sqlite(url):
        in_memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 60}}
        if in_memory:
            kwargs["poolclass"] = StaticPool
        else:
            path = url.split("///", 1)[-1].split("?", 1)[0]
            if path:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised everywhere
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            # Up to 64 MiB of page cache per connection (SQLite's default is 2 MiB): an
            # import inserts into unique indexes of random hashes, whose pages the default
            # keeps re-reading. Pages are only allocated as they are used.
            cur.execute(f"PRAGMA cache_size={SQLITE_CACHE_KIB}")
            cur.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # str(url) masks the password as "***": render it whole, or a PostgreSQL URL with a
    # password cannot connect (alembic reads the option when no connection is handed over).
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``accord db upgrade``)."""
    from alembic import command

    cfg = alembic_config(engine)
    sqlite = is_sqlite(engine)
    with engine.connect() as conn:
        if sqlite:
            # SQLite changes a table's columns or keys by copying it into a new table and
            # dropping the old one; with foreign keys on, dropping a table that other rows
            # reference fails (and on a large store first spends minutes checking every row).
            # The keys are off while migrating (the pragma only takes effect outside a
            # transaction) and checked in full before the migration commits.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()  # ends SQLAlchemy's autobegun transaction (SQLite opened none)
        try:
            with conn.begin():
                # Several processes may open a new store at once (the ranks of a distributed
                # launch, a service and its worker): the first takes the store's write lock
                # before reading the revision, the others wait for it and then find nothing
                # left to apply.
                if sqlite:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite:
                conn.rollback()  # whatever a failure left open, before the pragma
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def _check_foreign_keys(conn) -> None:
    """Refuse (roll back) a migration that left a row pointing at no row."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        first = ", ".join(
            f"{table} row {rowid} → {parent}" for table, rowid, parent, _ in broken[:5]
        )
        raise RuntimeError(
            f"migrating the store would leave {len(broken)} rows pointing at no row ({first}); "
            "nothing was changed"
        )


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the store's migrations have {len(heads)} heads: {heads}")
    return heads[0]


def open_store(
    url: str | None = None, *, migrate: bool | None = None, echo: bool | None = None
) -> Engine:
    """The process-wide engine for ``url`` (default: ``ACCORD_DATABASE_URL``), migrated.

    Engines are cached per URL so every command and request shares one pool.
    """
    from ..settings import get_settings

    settings = get_settings()
    url = url or settings.database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url, echo=settings.echo_sql if echo is None else echo)
            if settings.auto_migrate if migrate is None else migrate:
                if current_revision(engine) != head_revision():
                    upgrade(engine)
            _engines[url] = engine
    return engine


def dispose_all() -> None:
    """Close every cached engine (tests and forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on any error: all or nothing."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
