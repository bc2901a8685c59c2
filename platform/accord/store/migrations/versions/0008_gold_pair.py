"""gold pair

Pairs whose right answer is known (``accord gold add``, ``accord import --gold``): mixed into
Argilla pushes at ``--gold-rate``; each annotator's accuracy on them is in the audit and
``snapshot create --min-gold-accuracy`` drops the labels of annotators below a bar.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:45:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gold_pair",
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pair.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gold_pair", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gold_pair_pair_id"), ["pair_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("gold_pair", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gold_pair_pair_id"))
    op.drop_table("gold_pair")
