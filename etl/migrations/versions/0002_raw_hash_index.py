"""Duplicate look-ups filter raw records by source and content hash (not entity): index that.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS raw.record_source_entity_content_hash_idx")
    op.execute("CREATE INDEX IF NOT EXISTS record_source_content_hash_idx ON raw.record (source, content_hash)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS raw.record_source_content_hash_idx")
    op.execute("CREATE INDEX IF NOT EXISTS record_source_entity_content_hash_idx ON raw.record (source, entity, content_hash)")
