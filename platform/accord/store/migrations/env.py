"""Alembic environment of the accord store: run against the connection accord hands over
(``config.attributes["connection"]``) or the URL in the config."""

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

from accord.store import models  # noqa: F401

target_metadata = SQLModel.metadata
config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)
