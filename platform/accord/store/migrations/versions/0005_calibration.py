"""calibration

Calibrations of AI judges against human labels (``accord calibrate``): one row per fit,
versioned per judge, constitution, principle and method, keyed by a hash of every input.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:20:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration",
        sa.Column("judge", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("constitution_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("principle", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("human_label_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("ece_before", sa.Float(), nullable=False),
        sa.Column("ece_after", sa.Float(), nullable=False),
        sa.Column("brier_before", sa.Float(), nullable=False),
        sa.Column("brier_after", sa.Float(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("calibration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_judge"), ["judge"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_key_hash"), ["key_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("calibration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_key_hash"))
        batch_op.drop_index(batch_op.f("ix_calibration_judge"))
    op.drop_table("calibration")
