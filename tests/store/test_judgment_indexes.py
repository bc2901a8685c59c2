"""The judgment table keeps only the indexes its queries use (migration 0004), on SQLite and
PostgreSQL: annotator_id and job_id partial (rows where set), external_id and constitution_id
none; the lookups still go through an index, and the migration goes down and up again."""

from sqlalchemy import inspect, text

from accord.store.db import upgrade

INDEXES = {
    "ix_judgment_annotator_id",
    "ix_judgment_job_id",
    "ix_judgment_judge",
    "ix_judgment_key_hash",
    "ix_judgment_pair_id",
    "ix_judgment_source",
}


def _indexes(engine) -> dict[str, dict]:
    return {index["name"]: index for index in inspect(engine).get_indexes("judgment")}


def _where(index: dict) -> str:
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return (
        ""
        if where is None
        else str(getattr(where, "text", where)).replace("(", "").replace(")", "")
    )


def test_only_queried_judgment_columns_are_indexed(engine):
    indexes = _indexes(engine)
    assert set(indexes) == INDEXES
    assert _where(indexes["ix_judgment_annotator_id"]) == "annotator_id IS NOT NULL"
    assert _where(indexes["ix_judgment_job_id"]) == "job_id IS NOT NULL"
    assert _where(indexes["ix_judgment_pair_id"]) == ""


def _plan(conn, sql: str, **params) -> str:
    if conn.dialect.name == "sqlite":
        return " ".join(
            str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params)
        )
    conn.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: ask for the index
    return " ".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}"), params))


def test_lookups_by_job_and_annotator_use_the_partial_indexes(engine):
    with engine.begin() as conn:
        assert "ix_judgment_job_id" in _plan(
            conn, "SELECT pair_id FROM judgment WHERE job_id = :job_id", job_id=3
        )
        assert "ix_judgment_annotator_id" in _plan(
            conn,
            "SELECT id FROM judgment WHERE annotator_id = :annotator_id ORDER BY id",
            annotator_id=2,
        )


def test_migration_0004_goes_down_and_up(engine):
    from alembic import command

    from accord.store.db import alembic_config

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    indexes = _indexes(engine)
    assert {"ix_judgment_external_id", "ix_judgment_constitution_id"} <= set(indexes)
    assert _where(indexes["ix_judgment_job_id"]) == ""
    upgrade(engine)
    assert set(_indexes(engine)) == INDEXES
