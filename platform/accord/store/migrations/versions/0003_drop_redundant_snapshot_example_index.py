"""drop the redundant snapshot example index

``ix_snapshotexample_snapshot_id`` duplicates the leading column of the unique
(snapshot_id, pair_id) constraint, which already serves every lookup by snapshot; keeping
both made each example insert maintain one more b-tree.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:50:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshotexample", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshotexample_snapshot_id"))


def downgrade() -> None:
    with op.batch_alter_table("snapshotexample", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_snapshotexample_snapshot_id"), ["snapshot_id"], unique=False
        )
