"""judgment indexes for queries only

Drops ``ix_judgment_external_id`` and ``ix_judgment_constitution_id`` (no query filters on
either) and keeps ``ix_judgment_annotator_id`` and ``ix_judgment_job_id`` only for the rows
where the link is set (partial indexes: every lookup is ``column = value``). Each index
dropped is one b-tree fewer for every judgment insert; most judgments (imports, AI judges)
have no annotator and many no job.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _where_set(column: str) -> dict:
    where = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    with op.batch_alter_table("judgment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_judgment_external_id"))
        batch_op.drop_index(batch_op.f("ix_judgment_constitution_id"))
        batch_op.drop_index(batch_op.f("ix_judgment_annotator_id"))
        batch_op.drop_index(batch_op.f("ix_judgment_job_id"))
        batch_op.create_index(
            batch_op.f("ix_judgment_annotator_id"),
            ["annotator_id"],
            unique=False,
            **_where_set("annotator_id"),
        )
        batch_op.create_index(
            batch_op.f("ix_judgment_job_id"), ["job_id"], unique=False, **_where_set("job_id")
        )


def downgrade() -> None:
    with op.batch_alter_table("judgment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_judgment_job_id"))
        batch_op.drop_index(batch_op.f("ix_judgment_annotator_id"))
        batch_op.create_index(batch_op.f("ix_judgment_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_judgment_annotator_id"), ["annotator_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_judgment_constitution_id"), ["constitution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_judgment_external_id"), ["external_id"], unique=False)
