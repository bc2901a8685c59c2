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


def test_snapshot_examples_keep_only_the_pair_and_snapshot_keys_and_migrate_both_ways(engine):
    from alembic import command
    from sqlalchemy import inspect

    from accord.store.db import alembic_config, current_revision, upgrade

    def keys():
        return sorted(
            tuple(fk["constrained_columns"])
            for fk in inspect(engine).get_foreign_keys("snapshotexample")
        )

    assert keys() == [("pair_id",), ("snapshot_id",)]
    command.downgrade(alembic_config(engine), "0006")
    assert current_revision(engine) == "0006"
    assert keys() == [
        ("chosen_id",),
        ("pair_id",),
        ("prompt_id",),
        ("rejected_id",),
        ("snapshot_id",),
    ]
    upgrade(engine)
    assert keys() == [("pair_id",), ("snapshot_id",)]


def test_gold_pair_table_migrates_both_ways(engine):
    from alembic import command
    from sqlalchemy import inspect

    from accord.store.db import alembic_config, current_revision, upgrade

    assert "gold_pair" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0007")
    assert current_revision(engine) == "0007"
    assert "gold_pair" not in inspect(engine).get_table_names()
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("gold_pair")}
    assert columns == {"id", "pair_id", "answer", "source", "created_at"}


def test_demonstration_columns_and_table_migrate_both_ways(engine):
    from alembic import command
    from sqlalchemy import inspect

    from accord.store.db import alembic_config, current_revision, upgrade

    def response_columns():
        return {c["name"] for c in inspect(engine).get_columns("response")}

    added = {"annotator_id", "source", "external_id", "withdrawn_at"}
    assert added <= response_columns()
    assert "snapshot_demonstration" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0009")
    assert current_revision(engine) == "0009"
    assert not added & response_columns()
    assert "snapshot_demonstration" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert added <= response_columns()
    columns = {c["name"] for c in inspect(engine).get_columns("snapshot_demonstration")}
    assert columns == {
        "id",
        "snapshot_id",
        "position",
        "example_hash",
        "prompt_id",
        "response_id",
        "split",
        "author",
    }
