"""snapshot example: drop the foreign keys the pair already implies

A snapshot example's prompt, chosen and rejected responses are its pair's prompt and two
responses (the build copies them from the pair row, and ``snapshot verify`` checks they still
match). Checking three more foreign keys on every example row cost most of a 1M-pair snapshot
build on PostgreSQL; the keys to the pair and the snapshot stay.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

IMPLIED = (("prompt_id", "prompt"), ("chosen_id", "response"), ("rejected_id", "response"))


def _table(with_implied_keys: bool) -> sa.Table:
    """The table as it stands before (with) or after (without) this migration, for SQLite's
    batch mode, which rebuilds the table and cannot name the unnamed keys it should drop."""
    keys = [
        sa.ForeignKeyConstraint(["pair_id"], ["pair.id"]),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
    ]
    if with_implied_keys:
        keys += [sa.ForeignKeyConstraint([c], [f"{t}.id"]) for c, t in IMPLIED]
    return sa.Table(
        "snapshotexample",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("example_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("chosen_id", sa.Integer(), nullable=False),
        sa.Column("rejected_id", sa.Integer(), nullable=False),
        sa.Column("split", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("prob", sa.Float(), nullable=True),
        sa.Column("tie", sa.Boolean(), nullable=False),
        sa.Column("label_source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("n_labels", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        *keys,
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_id", "pair_id", name="uq_snapexample_pair"),
        sa.Index("ix_snapshotexample_pair_id", "pair_id"),
    )


def _rebuild_sqlite(with_implied_keys: bool) -> None:
    with op.batch_alter_table(
        "snapshotexample", recreate="always", copy_from=_table(with_implied_keys)
    ):
        pass


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(with_implied_keys=False)
        return
    for column, _ in IMPLIED:
        op.drop_constraint(f"snapshotexample_{column}_fkey", "snapshotexample", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(with_implied_keys=True)
        return
    for column, target in IMPLIED:
        op.create_foreign_key(
            f"snapshotexample_{column}_fkey", "snapshotexample", target, [column], ["id"]
        )
