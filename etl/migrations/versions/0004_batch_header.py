"""Tables land their rows as text arrays; the header is kept once per batch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE audit.load_batch ADD COLUMN header text[]")
    op.execute("COMMENT ON COLUMN audit.load_batch.header IS"
               " 'column names of a table file; raw.record.payload of its rows is the cells as text[] in this order'")


def downgrade() -> None:
    op.execute("ALTER TABLE audit.load_batch DROP COLUMN header")
