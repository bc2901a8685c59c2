"""ranking method

An AI judge's Bradley–Terry and listwise rankings of the same responses are two readings: the
ranking gains ``method`` (bradley-terry | listwise, empty for rankings given as such), which is
part of its natural key. Rankings the ``rank`` step wrote before keep their method in
``meta``; it is copied to the column, their keys are recomputed with it and so are the keys of
the judgments they expanded into (which hold the ranking's key). Keys only get finer (before,
one judge had one ranking of a set of responses), so no two rows can collide. A downgrade
refuses a store where one judge ranked the same responses by both methods (the earlier schema
cannot hold both), and writes each method back into ``meta`` before dropping the column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00
"""

import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

METHODS = ("bradley-terry", "listwise")


def _rekey(with_method: bool) -> None:
    from accord.store.keys import ranking_key
    from accord.store.rekey import rekey_judgments

    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, key_hash, group_key, judge, kind, principle, constitution_hash, meta "
            "FROM ranking WHERE kind = 'ai' ORDER BY id"
        )
    ).all()
    updates = []
    for rid, old, group, judge, kind, principle, chash, meta in rows:
        meta = json.loads(meta) if isinstance(meta, str) else (meta or {})
        method = meta.get("method") if with_method else ""
        method = method if method in METHODS else ""
        key = ranking_key(
            group, judge, kind=kind, principle=principle, constitution_hash=chash, method=method
        )
        if key != old or method:
            updates.append({"rid": rid, "key": key, "method": method})
    if not updates:
        return
    set_method = ", method = :method" if with_method else ""
    conn.execute(
        sa.text(f"UPDATE ranking SET key_hash = :key{set_method} WHERE id = :rid"), updates
    )
    rekey_judgments(conn)


def upgrade() -> None:
    with op.batch_alter_table("ranking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "method",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=False,
                server_default="",
            )
        )
    with op.batch_alter_table("ranking", schema=None) as batch_op:
        batch_op.alter_column("method", server_default=None)
    _rekey(with_method=True)


def _refuse_merging_methods() -> None:
    """Before 0011 one judge had one ranking of a set of responses: a downgrade that would
    fold two methods' rankings into one key stops before changing anything."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT group_key, judge, principle, constitution_hash, COUNT(*), MIN(id), MAX(id) "
            "FROM ranking WHERE kind = 'ai' "
            "GROUP BY group_key, judge, principle, constitution_hash HAVING COUNT(*) > 1"
        )
    ).all()
    if rows:
        group, judge, _, _, count, first, last = rows[0]
        raise RuntimeError(
            f"cannot downgrade below 0011: {len(rows)} ranked item(s) have AI rankings by more "
            f"than one method from one judge, which the earlier schema cannot hold (e.g. "
            f"judge {judge!r}, item {group[:12]}…: {count} rankings, ids {first}..{last}); "
            "delete the rankings of one method first"
        )


def _keep_method_in_meta() -> None:
    """The column's value goes back into ``meta`` (where the rank step kept it before), so
    that upgrading again restores it."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, meta, method FROM ranking WHERE method != ''")).all()
    updates = []
    for rid, meta, method in rows:
        meta = json.loads(meta) if isinstance(meta, str) else dict(meta or {})
        if meta.get("method") != method:
            updates.append({"rid": rid, "meta": json.dumps({**meta, "method": method})})
    if updates:
        cast = "CAST(:meta AS JSON)" if conn.dialect.name == "postgresql" else ":meta"
        conn.execute(sa.text(f"UPDATE ranking SET meta = {cast} WHERE id = :rid"), updates)


def downgrade() -> None:
    _refuse_merging_methods()
    _keep_method_in_meta()
    _rekey(with_method=False)
    with op.batch_alter_table("ranking", schema=None) as batch_op:
        batch_op.drop_column("method")
