"""Register builds record the last load batch they saw: records landed while a build ran are linked
by the next build, and the register checks judge each build by what it could see.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE register.build_run (
        build_id      bigserial PRIMARY KEY,
        run_id        text NOT NULL,
        started_at    timestamptz NOT NULL DEFAULT now(),
        max_batch_id  bigint NOT NULL,
        counts        jsonb
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE register.build_run")
