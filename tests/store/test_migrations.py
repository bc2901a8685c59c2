"""The migration chain builds exactly the schema the SQLModel tables declare, on both engines."""

import pytest
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


def test_a_store_with_data_migrates_across_a_table_rebuild_and_keeps_its_keys_on(engine):
    """Migration 0010 rebuilds ``response`` on SQLite (copy, drop, rename) while pairs and
    judgments point at it: every row survives, no key dangles, and foreign keys are enforced
    again on the store's connections afterwards."""
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from accord.store.db import (
        alembic_config,
        current_revision,
        head_revision,
        session_scope,
        upgrade,
    )
    from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord

    records = [
        PreferenceRecord(
            prompt=f"q{i}",
            chosen=f"good {i}",
            rejected=f"bad {i}",
            judgments=[JudgmentSpec(kind="human", annotator=f"ann{i % 3}")],
        )
        for i in range(300)
    ]
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(records)

    def counts():
        with engine.connect() as c:
            return {
                t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("prompt", "response", "pair", "judgment", "annotator")
            }

    before = counts()
    command.downgrade(alembic_config(engine), "0009")
    assert current_revision(engine) == "0009" and counts() == before
    upgrade(engine)
    assert current_revision(engine) == head_revision() and counts() == before
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert c.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    dangling = (
        "INSERT INTO pair (prompt_id, response_a_id, response_b_id, source, content_hash, "
        "created_at) VALUES (1, 1000000000, 2, '', 'dangling', CURRENT_TIMESTAMP)"
    )
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(text(dangling))


def test_ranking_method_joins_the_key_of_stored_ai_rankings_and_their_judgments(engine):
    """Migration 0011: an AI ranking the rank step wrote before has its method only in
    ``meta``; upgrading copies it to ``method`` and recomputes the ranking's key and its
    expanded judgments' keys with it; downgrading gives back the keys without it."""
    from alembic import command
    from sqlalchemy import text

    from accord.store.crud.prompts import upsert_prompt
    from accord.store.crud.rankings import upsert_ranking
    from accord.store.crud.responses import upsert_response
    from accord.store.db import alembic_config, head_revision, session_scope, upgrade

    with session_scope(engine) as s:
        prompt = upsert_prompt(s, text="Name a colour")
        rs = [upsert_response(s, prompt=prompt, text=t) for t in ("red", "car", "blue")]
        for kind, judge, method in (("ai", "judge", "listwise"), ("human", "ann", "")):
            upsert_ranking(
                s,
                prompt=prompt,
                responses=rs,
                ranks=[1, 3, 2],
                kind=kind,
                judge=judge,
                method=method,
                meta={"method": method} if method else {},
            )

    def keys():
        with engine.connect() as c:
            rankings = c.execute(text("SELECT judge, key_hash FROM ranking ORDER BY id")).all()
            judgments = c.execute(
                text("SELECT id, key_hash FROM judgment WHERE ranking_id IS NOT NULL ORDER BY id")
            ).all()
        return [tuple(r) for r in rankings], [tuple(j) for j in judgments]

    with_method = keys()
    command.downgrade(alembic_config(engine), "0010")
    without = keys()
    assert without[0][1] == with_method[0][1]  # the human ranking's key never had a method
    assert without[0][0] != with_method[0][0]
    assert all(a != b for a, b in zip(without[1][:3], with_method[1][:3]))  # the AI one's
    assert without[1][3:] == with_method[1][3:]
    upgrade(engine)
    assert keys() == with_method
    with engine.connect() as c:
        methods = c.execute(text("SELECT method FROM ranking ORDER BY id")).scalars().all()
        revision = c.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert methods == ["listwise", ""] and revision == head_revision()


def _two_methods_of_one_judge(engine, *, meta_method: bool = True):
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.crud.rankings import upsert_ranking
    from accord.store.crud.responses import upsert_response
    from accord.store.db import session_scope

    with session_scope(engine) as s:
        prompt = upsert_prompt(s, text="Name a colour")
        rs = [upsert_response(s, prompt=prompt, text=t) for t in ("red", "car", "blue")]
        for method, ranks in (("bradley-terry", [1, 3, 2]), ("listwise", [2, 3, 1])):
            upsert_ranking(
                s,
                prompt=prompt,
                responses=rs,
                ranks=ranks,
                kind="ai",
                judge="judge",
                method=method,
                meta={"method": method} if meta_method else {},
            )


def test_a_downgrade_that_would_merge_two_methods_rankings_is_refused(engine):
    from alembic import command
    from sqlalchemy import text

    from accord.store.db import alembic_config, current_revision, head_revision

    _two_methods_of_one_judge(engine)
    with engine.connect() as c:
        before = c.execute(text("SELECT id, key_hash, method FROM ranking ORDER BY id")).all()
    with pytest.raises(RuntimeError, match="cannot downgrade below 0011.*'judge'"):
        command.downgrade(alembic_config(engine), "0010")
    assert current_revision(engine) == head_revision()
    with engine.connect() as c:
        assert c.execute(text("SELECT id, key_hash, method FROM ranking ORDER BY id")).all() == (
            before
        )


def test_the_method_survives_a_downgrade_and_upgrade_when_meta_lacked_it(engine):
    from alembic import command
    from sqlalchemy import text

    from accord.store.db import alembic_config, upgrade

    _two_methods_of_one_judge(engine, meta_method=False)
    with engine.begin() as c:  # one method's ranking only: the downgrade is possible
        c.execute(text("DELETE FROM judgment WHERE ranking_id = 2"))
        c.execute(text("DELETE FROM ranking WHERE id = 2"))
        before = c.execute(text("SELECT key_hash, method FROM ranking")).all()
    command.downgrade(alembic_config(engine), "0010")
    upgrade(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT key_hash, method FROM ranking")).all() == before
