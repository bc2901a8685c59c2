"""ranking

Rankings of K responses of one prompt (``accord.store.crud.rankings``), and the link from each
pairwise judgment a ranking expands into back to its ranking (``judgment.ranking_id``, indexed
where set, like the other optional links of a judgment).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WHERE_SET = sa.text("ranking_id IS NOT NULL")


def upgrade() -> None:
    string = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "ranking",
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("kind", string(length=8), nullable=False),
        sa.Column("judge", string(length=300), nullable=False),
        sa.Column("principle", string(length=100), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("response_ids", sa.JSON(), nullable=False),
        sa.Column("ranks", sa.JSON(), nullable=False),
        sa.Column("shown_order", sa.JSON(), nullable=False),
        sa.Column("status", string(length=12), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", string(length=64), nullable=False),
        sa.Column("group_key", string(length=64), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=True),
        sa.Column("judge_backend", string(length=32), nullable=False),
        sa.Column("constitution_id", sa.Integer(), nullable=True),
        sa.Column("constitution_hash", string(length=64), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("source", string(length=300), nullable=False),
        sa.Column("external_id", string(length=100), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["annotator_id"], ["annotator.id"]),
        sa.ForeignKeyConstraint(["constitution_id"], ["constitution.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ranking", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ranking_group_key"), ["group_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_ranking_judge"), ["judge"], unique=False)
        batch_op.create_index(batch_op.f("ix_ranking_key_hash"), ["key_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_ranking_prompt_id"), ["prompt_id"], unique=False)
    with op.batch_alter_table("judgment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ranking_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_judgment_ranking_id_ranking", "ranking", ["ranking_id"], ["id"]
        )
        batch_op.create_index(
            "ix_judgment_ranking_id",
            ["ranking_id"],
            unique=False,
            sqlite_where=_WHERE_SET,
            postgresql_where=_WHERE_SET,
        )


def downgrade() -> None:
    with op.batch_alter_table("judgment", schema=None) as batch_op:
        batch_op.drop_index("ix_judgment_ranking_id")
        batch_op.drop_constraint("fk_judgment_ranking_id_ranking", type_="foreignkey")
        batch_op.drop_column("ranking_id")
    with op.batch_alter_table("ranking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ranking_prompt_id"))
        batch_op.drop_index(batch_op.f("ix_ranking_key_hash"))
        batch_op.drop_index(batch_op.f("ix_ranking_judge"))
        batch_op.drop_index(batch_op.f("ix_ranking_group_key"))
    op.drop_table("ranking")
