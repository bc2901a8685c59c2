"""demonstrations

Human demonstrations (InstructGPT's human data): a response an annotator wrote keeps its author
(``response.annotator_id``, indexed where set), where it came from (``response.source``,
``response.external_id``) and when it was withdrawn (``response.withdrawn_at``); the examples of
a demonstrations snapshot live in ``snapshot_demonstration`` (a prompt and a demonstration
each, with its split).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 11:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_WHERE_SET = sa.text("annotator_id IS NOT NULL")


def upgrade() -> None:
    string = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("annotator_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("source", string(length=300), nullable=True))
        batch_op.add_column(sa.Column("external_id", string(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_response_annotator_id_annotator", "annotator", ["annotator_id"], ["id"]
        )
        batch_op.create_index(
            "ix_response_annotator_id",
            ["annotator_id"],
            unique=False,
            sqlite_where=_WHERE_SET,
            postgresql_where=_WHERE_SET,
        )
    op.create_table(
        "snapshot_demonstration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("example_hash", string(length=64), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("split", string(length=8), nullable=False),
        sa.Column("author", string(length=200), nullable=False),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        sa.ForeignKeyConstraint(["response_id"], ["response.id"]),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_id", "response_id", name="uq_snapdemo_response"),
    )
    with op.batch_alter_table("snapshot_demonstration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_snapshot_demonstration_response_id"), ["response_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("snapshot_demonstration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshot_demonstration_response_id"))
    op.drop_table("snapshot_demonstration")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index("ix_response_annotator_id")
        batch_op.drop_constraint("fk_response_annotator_id_annotator", type_="foreignkey")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("external_id")
        batch_op.drop_column("source")
        batch_op.drop_column("annotator_id")
