"""Data-quality mart: the expectation results over time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE marts.mart_data_quality (
            run_id            text NOT NULL,
            validated_at      timestamptz NOT NULL,
            checkpoint        text NOT NULL,
            suite             text NOT NULL,
            expectation       text NOT NULL,
            severity          text NOT NULL,
            success           boolean NOT NULL,
            unexpected_count  bigint,
            element_count     bigint,
            published_at      timestamptz NOT NULL,
            PRIMARY KEY (run_id, suite, expectation)
        )""")
    # Marts are built in `build` before the gate; GX assets need the tables to exist when first declared.
    for mart in ("mart_recipients_by_level", "mart_data_quality"):
        op.execute(f"CREATE TABLE IF NOT EXISTS build.{mart} (LIKE marts.{mart})")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS build.mart_data_quality")
    op.execute("DROP TABLE marts.mart_data_quality")
