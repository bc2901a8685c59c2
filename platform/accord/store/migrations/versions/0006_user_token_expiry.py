"""user token expiry

A service user's token may carry an expiry (``accord users create --expires``, ``accord users
set-role``, ``rotate-token --expires``): after it the token no longer signs in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("service_user", schema=None) as batch_op:
        batch_op.drop_column("token_expires_at")
