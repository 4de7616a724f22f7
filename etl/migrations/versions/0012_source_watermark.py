"""Watermarks of incremental pulls (OPTIMA export API): per source and stream, the point up to which
everything has been stored; moved only after the data is durably landed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE audit.source_watermark (
        source      text NOT NULL,
        stream      text NOT NULL,
        watermark   text NOT NULL,
        batch_id    bigint,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source, stream)
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE audit.source_watermark")
