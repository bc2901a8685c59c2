"""The migration chain builds exactly the schema the SQLModel tables declare, on both engines."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import accord.store.models  # noqa: F401  (registers every table on the metadata)


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_snapshot_examples_have_no_index_duplicating_the_unique_constraint(engine):
    from sqlalchemy import inspect

    index_names = {index["name"] for index in inspect(engine).get_indexes("snapshotexample")}
    assert "ix_snapshotexample_snapshot_id" not in index_names
